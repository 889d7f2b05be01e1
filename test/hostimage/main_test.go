// Package hostimage tests host image builds through a real master: the
// API and its rules, the builder in the elected master (one build at a
// time per definition, cancel, the trigger), live logs, diffs, the OSTree
// repository served over HTTP, the agent staging a commit on a real
// sysroot, a host upgraded through its reboot (TestUpgradeReboots), and
// the CLI. Builds compose busybox-based roots from a local apt
// repository with the real mmdebstrap and ostree, in seconds; the Debian
// host from deb.debian.org is composed and booted by test/hostboot (make
// test-host), which takes minutes. -short skips them.
package hostimage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	berthv1 "github.com/berthpaas/berth/backend/apis/berth/v1"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	"github.com/berthpaas/berth/hostimage"
	"github.com/berthpaas/berth/hostimage/hostimagetest"
	"github.com/berthpaas/berth/internal/testbin"
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	defer testbin.Cleanup()
	return testenv.Main(m)
}

const api = "/apis/berth.dev/v1"

// master is a master that builds from a local repository of test
// packages.
type master struct {
	*testenv.Env
	t       *testing.T
	sources string // a deb822 stanza of the test repository
}

func startMaster(t *testing.T, pkgs ...hostimagetest.Package) *master {
	t.Helper()
	return newMaster(t, "", pkgs...)
}

// newMaster is startMaster whose builds commit berth, a berth binary, as
// the berth/node layer (definitions that name it in ostree-layers).
func newMaster(t *testing.T, berth string, pkgs ...hostimagetest.Package) *master {
	t.Helper()
	if len(pkgs) == 0 {
		pkgs = []hostimagetest.Package{hostimagetest.Busybox(), hostimagetest.Simple("berth-test-a", "1.0"), hostimagetest.Simple("berth-test-b", "2.0")}
	}
	sources := hostimagetest.AptRepo(t, t.TempDir(), pkgs...)
	env := testenv.Start(t, testenv.Options{Controllers: true, Configure: func(cfg *server.Config) {
		cfg.HostImages = server.HostImages{Runners: hostimagetest.Runners(), NoSeed: true, BerthBinary: berth}
	}})
	return &master{Env: env, t: t, sources: sources}
}

func (m *master) repo() string { return filepath.Join(m.DataDir, "hostimages", "repo") }

// definition is a HostImage object of files.
func definition(name string, files hostimage.Files) map[string]any {
	fs := make([]map[string]any, len(files))
	for i, f := range files {
		fs[i] = map[string]any{"path": f.Path, "content": f.Content, "executable": f.Executable}
	}
	return map[string]any{
		"apiVersion": "berth.dev/v1", "kind": "HostImage",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"treefile": "host.yaml", "files": fs},
	}
}

// create stores a definition as the admin.
func (m *master) create(name string, files hostimage.Files) berthv1.HostImage {
	m.t.Helper()
	resp := m.Do(m.t, http.MethodPost, api+"/hostimages", m.AdminToken, definition(name, files))
	if resp.Code != http.StatusCreated {
		m.t.Fatalf("create host image %s: %d %s", name, resp.Code, resp.Body)
	}
	var hi berthv1.HostImage
	resp.JSON(m.t, &hi)
	return hi
}

// build queues a build as the admin.
func (m *master) build(name string, force bool) berthv1.HostImageBuild {
	m.t.Helper()
	resp := m.Do(m.t, http.MethodPost, api+"/hostimagebuilds", m.AdminToken, map[string]any{
		"spec": map[string]any{"hostImage": name, "force": force}})
	if resp.Code != http.StatusCreated {
		m.t.Fatalf("build %s: %d %s", name, resp.Code, resp.Body)
	}
	var b berthv1.HostImageBuild
	resp.JSON(m.t, &b)
	return b
}

func (m *master) getBuild(name string) berthv1.HostImageBuild {
	m.t.Helper()
	resp := m.Do(m.t, http.MethodGet, api+"/hostimagebuilds/"+name, m.AdminToken, nil)
	if resp.Code != http.StatusOK {
		m.t.Fatalf("get build %s: %d %s", name, resp.Code, resp.Body)
	}
	var b berthv1.HostImageBuild
	resp.JSON(m.t, &b)
	return b
}

// wait waits until the build is in one of phases and returns it.
func (m *master) wait(name string, timeout time.Duration, phases ...string) berthv1.HostImageBuild {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b := m.getBuild(name)
		for _, p := range phases {
			if b.Status.Phase == p {
				return b
			}
		}
		if isDone(b.Status.Phase) || time.Now().After(deadline) {
			m.t.Fatalf("build %s is %s (%s), want %v\n%s", name, b.Status.Phase, b.Status.Message, phases, m.log(name))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isDone(p string) bool {
	return p == berthv1.BuildSucceeded || p == berthv1.BuildFailed || p == berthv1.BuildCancelled
}

func (m *master) log(name string) string {
	m.t.Helper()
	return string(m.Do(m.t, http.MethodGet, api+"/hostimagebuilds/"+name+"/log", m.AdminToken, nil).Body)
}

func (m *master) builds(image string) []berthv1.HostImageBuild {
	m.t.Helper()
	resp := m.Do(m.t, http.MethodGet, api+"/hostimagebuilds?hostImage="+image, m.AdminToken, nil)
	var list berthv1.HostImageBuildList
	resp.JSON(m.t, &list)
	return list.Items
}

// update replaces a definition's files as the admin.
func (m *master) update(name string, files hostimage.Files) berthv1.HostImage {
	m.t.Helper()
	resp := m.Do(m.t, http.MethodPut, api+"/hostimages/"+name, m.AdminToken, definition(name, files))
	if resp.Code != http.StatusOK {
		m.t.Fatalf("update host image %s: %d %s", name, resp.Code, resp.Body)
	}
	var hi berthv1.HostImage
	resp.JSON(m.t, &hi)
	return hi
}

func pretty(v any) string {
	data, _ := json.MarshalIndent(v, "", "  ")
	return string(data)
}

func withFile(files hostimage.Files, path, content string) hostimage.Files {
	out := append(hostimage.Files(nil), files...)
	for i := range out {
		if out[i].Path == path {
			out[i].Content = content
			return out
		}
	}
	return append(out, hostimage.File{Path: path, Content: content})
}

func appendTo(files hostimage.Files, path, more string) hostimage.Files {
	for _, f := range files {
		if f.Path == path {
			return withFile(files, path, f.Content+more)
		}
	}
	panic(fmt.Sprintf("no file %s", path))
}
