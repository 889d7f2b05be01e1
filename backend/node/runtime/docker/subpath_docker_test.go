//go:build linux

package docker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/backend/node/runtime/docker"
)

// escapedCode is the exit code of a container that saw what lies outside
// its volume.
const escapedCode = 42

// escapeCheck is a script that exits escapedCode if dir shows the host's
// root, its /etc (their passwd), or the directory that holds the pod's volumes.
func escapeCheck(dir string) string {
	return fmt.Sprintf("if [ -e %[1]s/etc/passwd ] || [ -e %[1]s/passwd ] || [ -d %[1]s/v ]; then echo ESCAPED; ls %[1]s; exit %[2]d; fi", dir, escapedCode)
}

// escaped reports whether any instance of a container of st exited with
// escapedCode.
func escaped(st runtime.PodStatus) string {
	for _, c := range st.Containers {
		if c.State == runtime.StateExited && c.ExitCode == escapedCode {
			return c.Name
		}
		if l := c.LastTermination; l != nil && l.ExitCode == escapedCode {
			return c.Name
		}
	}
	return ""
}

// killAtEnd kills the pod when the test ends, which also unmounts its
// staged subPaths before the temporary state directory is removed.
func killAtEnd(t *testing.T, rt *docker.Runtime, pod *v1.Pod) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.KillPod(ctx, string(pod.UID), time.Second); err != nil {
			t.Errorf("KillPod: %v", err)
		}
	})
}

// testSubPathEscape performs CVE-2017-1002101: one container of a pod
// makes a path of a shared emptyDir a symbolic link out of the volume, and
// another mounts that path as its subPath when it (re)starts.
func testSubPathEscape(t *testing.T, e *env) {
	tests := []struct {
		name, link, target, subPath string
	}{
		{name: "symlink to /", link: "escape", target: "/", subPath: "escape"},
		{name: "symlink to ..", link: "up", target: "..", subPath: "up"},
		{name: "symlink in an intermediate component", link: "a", target: "/", subPath: "a/etc"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			attacker := e.shellCmd("attacker", fmt.Sprintf("rm -rf /v/%[1]s; ln -sfn %[2]s /v/%[1]s; sleep 3600 & wait", tt.link, tt.target))
			attacker.VolumeMounts = []v1.VolumeMount{{Name: "v", MountPath: "/v"}}
			// The victim exits at once, so that it is restarted with
			// the link in place, as the CVE's exploit did.
			victim := e.shellCmd("victim", escapeCheck("/host")+"; exit 1")
			victim.VolumeMounts = []v1.VolumeMount{{Name: "v", MountPath: "/host", SubPath: tt.subPath}}
			pod := e.pod(fmt.Sprintf("subpath-%d", i), v1.RestartPolicyAlways, attacker, victim)
			pod.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}}
			killAtEnd(t, e.rt, pod)
			st := syncUntil(t, e.rt, pod, 30*time.Second, "refusing the subPath", func(st runtime.PodStatus) bool {
				if name := escaped(st); name != "" {
					t.Fatalf("container %q saw outside its volume: %+v", name, st)
				}
				v := st.Containers[1]
				return v.State == runtime.StateWaiting && v.Reason == "CreateContainerConfigError"
			})
			if msg := st.Containers[1].Message; !strings.Contains(msg, "symbolic link") || !strings.Contains(msg, tt.subPath) {
				t.Errorf("message %q, want one that names the subPath and the link", msg)
			}
		})
	}
}

// testSubPathHostPath: a hostPath volume (cluster admins only) gets the
// same resolution; a link under its root is refused, a directory works.
func testSubPathHostPath(t *testing.T, e *env) {
	opts := e.opts
	opts.AllowHostPath = func(*v1.Pod) bool { return true }
	rt, err := docker.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	root := t.TempDir()
	if err := os.Symlink("/", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "real", "inside"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	linked := e.shellCmd("linked", escapeCheck("/host")+"; sleep 3600 & wait")
	linked.VolumeMounts = []v1.VolumeMount{{Name: "h", MountPath: "/host", SubPath: "link"}}
	real := e.shellCmd("real", "test -e /data/inside || exit 3; sleep 3600 & wait")
	real.VolumeMounts = []v1.VolumeMount{{Name: "h", MountPath: "/data", SubPath: "real"}}
	pod := e.pod("subpath-hostpath", v1.RestartPolicyAlways, linked, real)
	pod.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: root}}}}
	killAtEnd(t, rt, pod)
	st := syncUntil(t, rt, pod, 20*time.Second, "one refused, one running", func(st runtime.PodStatus) bool {
		if name := escaped(st); name != "" {
			t.Fatalf("container %q saw outside its volume: %+v", name, st)
		}
		return st.Containers[0].Reason == "CreateContainerConfigError" && st.Containers[1].State == runtime.StateRunning
	})
	if msg := st.Containers[0].Message; !strings.Contains(msg, "symbolic link") {
		t.Errorf("message %q", msg)
	}
}

// testSubPathSwapRace swaps a directory and a symbolic link to / at the
// subPath, atomically and in a loop, while containers that mount it are
// created: each either gets the directory or is refused, none ever sees
// the host.
func testSubPathSwapRace(t *testing.T, e *env) {
	const containers = 12
	var cs []v1.Container
	for i := range containers {
		c := e.shellCmd(fmt.Sprintf("c%d", i), "test -e /mnt/inside && exit 0; "+escapeCheck("/mnt")+"; exit 3")
		c.VolumeMounts = []v1.VolumeMount{{Name: "v", MountPath: "/mnt", SubPath: "x"}}
		cs = append(cs, c)
	}
	pod := e.pod("subpath-race", v1.RestartPolicyNever, cs...)
	pod.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}}
	killAtEnd(t, e.rt, pod)

	vol := filepath.Join(e.opts.StateDir, "pods", string(pod.UID), "volumes", "v")
	dir, link := filepath.Join(vol, "x"), filepath.Join(vol, "y")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "inside"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	var swaps atomic.Int64
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swapping: %v", err)
				return
			}
			swaps.Add(1)
		}
	}()
	defer func() { close(stop); <-swapped }()

	refused := 0
	syncUntil(t, e.rt, pod, 60*time.Second, "every container run once", func(st runtime.PodStatus) bool {
		if name := escaped(st); name != "" {
			t.Fatalf("container %q saw outside its volume: %+v", name, st)
		}
		done := 0
		for _, c := range st.Containers {
			switch {
			case c.State == runtime.StateExited && c.ExitCode != 0:
				t.Fatalf("container %q: %+v", c.Name, c)
			case c.State == runtime.StateExited:
				done++
			case c.Reason == "CreateContainerConfigError":
				refused++
			}
		}
		return done == containers
	})
	t.Logf("%d containers ran inside the volume; %d attempts refused a link; %d swaps", containers, refused, swaps.Load())
}
