package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	mountsV1 = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs ro,size=4096k
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mountsV2 = `22 1 0:21 / /proc rw - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
`
	mountsNamespaced = `31 23 0:28 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
`
)

// The runtime keeps the counters of exited containers where it can read
// them, and says why not elsewhere.
func TestNewInstanceCgroups(t *testing.T) {
	tests := []struct {
		name, driver, version, mounts string
		local                         bool
		want                          *instanceCgroups
		why                           string
	}{
		{name: "v1 hybrid", driver: "cgroupfs", version: "1", mounts: mountsV1, local: true,
			want: &instanceCgroups{scope: "/berth/s", cpu: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory",
				mounts: []string{"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"}}},
		{name: "v2", driver: "cgroupfs", version: "2", mounts: mountsV2, local: true,
			want: &instanceCgroups{scope: "/berth/s", cpu: "/sys/fs/cgroup", memory: "/sys/fs/cgroup", v2: true,
				mounts: []string{"/sys/fs/cgroup"}}},
		{name: "systemd driver", driver: "systemd", version: "2", mounts: mountsV2, local: true, why: `cgroup driver is "systemd"`},
		{name: "remote engine", driver: "cgroupfs", version: "2", mounts: mountsV2, why: "not on this host"},
		{name: "v1 without cpuacct", driver: "cgroupfs", version: "1", mounts: mountsV2, local: true, why: "without a cpuacct"},
		{name: "cgroup namespace", driver: "cgroupfs", version: "2", mounts: mountsNamespaced, local: true, why: "not from its root"},
		{name: "unknown version", driver: "cgroupfs", version: "", mounts: mountsV2, local: true, why: `version ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := newInstanceCgroups(tt.driver, tt.version, tt.local, strings.NewReader(tt.mounts), "s")
			if tt.want == nil {
				if got != nil || !strings.Contains(why, tt.why) {
					t.Fatalf("got %+v, %q; want none because %q", got, why, tt.why)
				}
				return
			}
			if got == nil {
				t.Fatalf("none: %s", why)
			}
			if got.scope != tt.want.scope || got.cpu != tt.want.cpu || got.memory != tt.want.memory || got.v2 != tt.want.v2 ||
				strings.Join(got.mounts, " ") != strings.Join(tt.want.mounts, " ") {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// A parent is made only of what the runtime controls: a UID that could
// leave the runtime's directory gives none, and the container's name is
// hashed.
func TestCgroupParent(t *testing.T) {
	cg := &instanceCgroups{scope: "/berth/s"}
	tests := []struct {
		uid, container string
		restarts       int
		want           string
	}{
		{"0123-abcd", "app", 2, "/berth/s/0123-abcd/" + instanceName("app", 2)},
		{"../../etc", "app", 0, ""},
		{"a/b", "app", 0, ""},
		{"", "app", 0, ""},
		{"-x", "app", 0, ""},
		{"UPPER", "app", 0, ""},
		{"ok", "../../x", 0, "/berth/s/ok/" + instanceName("../../x", 0)},
		{"ok", "app", -1, ""},
	}
	for _, tt := range tests {
		if got := cg.parent(tt.uid, tt.container, tt.restarts); got != tt.want {
			t.Errorf("parent(%q, %q, %d) = %q, want %q", tt.uid, tt.container, tt.restarts, got, tt.want)
		}
	}
	if name := instanceName("../../x", 0); strings.ContainsAny(name, "./") {
		t.Errorf("instance name %q", name)
	}
}

// The final counters are read from the parent: cgroup v1's cpuacct.usage
// and memory.max_usage_in_bytes, v2's cpu.stat usage_usec and memory.peak
// (absent before Linux 5.19: no peak).
func TestCgroupCounters(t *testing.T) {
	write := func(t *testing.T, dir, name, data string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("v1", func(t *testing.T) {
		root := t.TempDir()
		cg := &instanceCgroups{scope: "/berth/s", cpu: filepath.Join(root, "cpuacct"), memory: filepath.Join(root, "memory")}
		write(t, cg.dir(cg.cpu, "u", "i"), "cpuacct.usage", "1420000000\n")
		write(t, cg.dir(cg.memory, "u", "i"), "memory.max_usage_in_bytes", "6959104\n")
		cpu, peak, err := cg.counters("u", "i")
		if err != nil || cpu != 1420000000 || peak != 6959104 {
			t.Fatalf("counters = %d, %d, %v", cpu, peak, err)
		}
	})
	t.Run("v2", func(t *testing.T) {
		root := t.TempDir()
		cg := &instanceCgroups{scope: "/berth/s", cpu: root, memory: root, v2: true}
		write(t, cg.dir(root, "u", "i"), "cpu.stat", "usage_usec 1420001\nuser_usec 1000000\nsystem_usec 420001\n")
		cpu, peak, err := cg.counters("u", "i")
		if err != nil || cpu != 1420001000 || peak != 0 {
			t.Fatalf("counters without memory.peak = %d, %d, %v", cpu, peak, err)
		}
		write(t, cg.dir(root, "u", "i"), "memory.peak", "8192\n")
		if _, peak, err := cg.counters("u", "i"); err != nil || peak != 8192 {
			t.Fatalf("peak = %d, %v", peak, err)
		}
	})
	t.Run("gone", func(t *testing.T) {
		cg := &instanceCgroups{scope: "/berth/s", cpu: t.TempDir(), memory: t.TempDir()}
		if _, _, err := cg.counters("u", "i"); err == nil {
			t.Fatal("counters of a cgroup that is gone: no error")
		}
	})
}
