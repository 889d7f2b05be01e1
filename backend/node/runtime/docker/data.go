package docker

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berthpaas/berth/backend/node/runtime"
)

// Secrets and config maps reach a container as the kubelet hands them
// over: as environment variables (env[].valueFrom.secretKeyRef and
// configMapKeyRef, envFrom), resolved when the container is created, and
// as the files of secret and configMap volumes, which every sync brings
// up to date. A secret volume is a tmpfs on the host (never the disk); a
// config map volume is a directory of the pod's state. Both are mounted
// read-only, and written as Kubernetes' AtomicWriter writes them: the
// files of one version in a fresh directory ..<time>, a symbolic link
// ..data to it swapped by rename(2), and each top-level name a link into
// ..data, so that a reader sees the old files or the new, never a mix.

const (
	// defaultVolumeMode is the mode of a volume's files when the volume
	// says none, as Kubernetes' SecretVolumeSourceDefaultMode.
	defaultVolumeMode = 0o644
	// dataDirName is the link to the current version of a volume's files.
	dataDirName    = "..data"
	dataDirTmpName = "..data_tmp"
	// secretVolumeBytes bounds the tmpfs of one secret volume: two
	// versions of the largest secret (1 MiB) while one replaces the
	// other, with room for the pages of many small files.
	secretVolumeBytes = 8 << 20
)

// keyRefValue is the value of an env[].valueFrom that names a key of a
// secret or config map; ok is false for an optional one that is missing.
func keyRefValue(ns string, from *v1.EnvVarSource, data runtime.PodData) (value string, ok bool, err error) {
	switch {
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s := data.Secrets[ref.Name]
		if s == nil {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		v, found := s.Data[ref.Key]
		if !found {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
		}
		return string(v), true, nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm := data.ConfigMaps[ref.Name]
		if cm == nil {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		if v, found := cm.Data[ref.Key]; found {
			return v, true, nil
		}
		if v, found := cm.BinaryData[ref.Key]; found {
			return string(v), true, nil
		}
		if optional {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
	}
	return "", false, errors.New("no secretKeyRef or configMapKeyRef")
}

// envFromSources are the variables of a container's envFrom, in order
// (a later source wins a name), each key with the source's prefix. Keys
// that are not valid variable names are skipped, as the kubelet skips
// them.
func envFromSources(ns string, c *v1.Container, data runtime.PodData) ([]string, error) {
	var env []string
	for _, src := range c.EnvFrom {
		var kv map[string]string
		switch {
		case src.SecretRef != nil:
			s := data.Secrets[src.SecretRef.Name]
			if s == nil {
				if src.SecretRef.Optional != nil && *src.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", src.SecretRef.Name)
			}
			kv = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				kv[k] = string(v)
			}
		case src.ConfigMapRef != nil:
			cm := data.ConfigMaps[src.ConfigMapRef.Name]
			if cm == nil {
				if src.ConfigMapRef.Optional != nil && *src.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", src.ConfigMapRef.Name)
			}
			kv = cm.Data
		default:
			continue
		}
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := src.Prefix + k
			if len(validation.IsEnvVarName(name)) > 0 {
				continue
			}
			env = append(env, name+"="+kv[k])
		}
	}
	return env, nil
}

// volumeFile is one file of a secret or configMap volume.
type volumeFile struct {
	data []byte
	mode os.FileMode
}

// volumeFiles are the files of a secret or configMap volume, by path
// beneath the volume; none for an optional volume whose object is
// missing.
func volumeFiles(vol *v1.Volume, data runtime.PodData) (map[string]volumeFile, error) {
	var (
		kv          map[string][]byte
		items       []v1.KeyToPath
		defaultMode *int32
		optional    bool
		missing     error
		keyErr      string
	)
	switch {
	case vol.Secret != nil:
		src := vol.Secret
		items, defaultMode, optional = src.Items, src.DefaultMode, src.Optional != nil && *src.Optional
		if s := data.Secrets[src.SecretName]; s != nil {
			kv = s.Data
		} else {
			missing = fmt.Errorf("secret %q not found", src.SecretName)
		}
		keyErr = "references non-existent secret key: %s"
	case vol.ConfigMap != nil:
		src := vol.ConfigMap
		items, defaultMode, optional = src.Items, src.DefaultMode, src.Optional != nil && *src.Optional
		if cm := data.ConfigMaps[src.Name]; cm != nil {
			kv = make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
			for k, v := range cm.Data {
				kv[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				kv[k] = v
			}
		} else {
			missing = fmt.Errorf("configmap %q not found", src.Name)
		}
		keyErr = "configmap references non-existent config key: %s"
	default:
		return nil, fmt.Errorf("volume %q is neither a secret nor a configMap", vol.Name)
	}
	if missing != nil {
		if optional {
			return map[string]volumeFile{}, nil
		}
		return nil, missing
	}
	mode := os.FileMode(defaultVolumeMode)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode) & fs.ModePerm
	}
	files := map[string]volumeFile{}
	if len(items) == 0 {
		for k, v := range kv {
			files[k] = volumeFile{data: v, mode: mode}
		}
		return files, checkPaths(files)
	}
	for _, it := range items {
		v, found := kv[it.Key]
		if !found {
			if optional {
				continue
			}
			return nil, fmt.Errorf(keyErr, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode) & fs.ModePerm
		}
		files[it.Path] = volumeFile{data: v, mode: m}
	}
	return files, checkPaths(files)
}

// checkPaths refuses a file path that would leave the volume or hide its
// bookkeeping (..data): the API validates them, and the node, which
// writes them as root, checks again.
func checkPaths(files map[string]volumeFile) error {
	for p := range files {
		if !filepath.IsLocal(p) || strings.HasPrefix(p, "..") {
			return fmt.Errorf("invalid path %q: must be relative and may not contain '..'", p)
		}
	}
	return nil
}

// dataVolumePath is the host directory of a secret or configMap volume.
func dataVolumePath(stateDir string, pod *v1.Pod, volume string) string {
	return emptyDirPath(stateDir, pod, volume)
}

// syncDataVolumes makes and updates the pod's secret and configMap
// volumes. It returns, by volume name, why a volume could not be made
// (its object is missing): containers that mount it are not created.
func (r *Runtime) syncDataVolumes(pod *v1.Pod, data runtime.PodData) map[string]error {
	failed := map[string]error{}
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		if vol.Secret == nil && vol.ConfigMap == nil {
			continue
		}
		if err := r.syncDataVolume(pod, vol, data); err != nil {
			failed[vol.Name] = fmt.Errorf("volume %q: %w", vol.Name, err)
		}
	}
	return failed
}

func (r *Runtime) syncDataVolume(pod *v1.Pod, vol *v1.Volume, data runtime.PodData) error {
	files, err := volumeFiles(vol, data)
	if err != nil {
		return err
	}
	dir := dataVolumePath(r.stateDir, pod, vol.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if vol.Secret != nil {
		if err := mountMemory(dir, secretVolumeBytes); err != nil {
			return err
		}
	}
	return writeAtomic(dir, files, r.now())
}

// writeAtomic makes dir hold exactly files, as described at the top of
// this file; it writes nothing when they are already there.
func writeAtomic(dir string, files map[string]volumeFile, now time.Time) error {
	if current, err := readData(dir); err == nil && sameFiles(current, files) {
		return nil
	}
	version, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(version, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		path := filepath.Join(version, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, f.mode); err != nil {
			return err
		}
		// WriteFile's mode passes the umask; the volume's does not.
		if err := os.Chmod(path, f.mode); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, dataDirTmpName)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDirName)); err != nil {
		return err
	}
	// The top-level names: a link into ..data for each, none for the
	// names that left.
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(filepath.ToSlash(p), "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataDirName, name) {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(dataDirName, name), link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataDirName || name == filepath.Base(version):
		case strings.HasPrefix(name, ".."):
			// Older versions, and what a write cut short left.
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return err
			}
		case !top[name]:
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readData reads the files of a volume's current version.
func readData(dir string) (map[string]volumeFile, error) {
	root := filepath.Join(dir, dataDirName)
	if _, err := os.Readlink(root); err != nil {
		return nil, err
	}
	files := map[string]volumeFile{}
	err := filepath.WalkDir(root+"/", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files[rel] = volumeFile{data: b, mode: info.Mode().Perm()}
		return nil
	})
	return files, err
}

func sameFiles(a, b map[string]volumeFile) bool {
	if len(a) != len(b) {
		return false
	}
	for p, f := range a {
		g, ok := b[p]
		if !ok || g.mode != f.mode || !bytes.Equal(g.data, f.data) {
			return false
		}
	}
	return true
}
