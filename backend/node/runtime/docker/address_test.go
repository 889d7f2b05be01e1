package docker

import (
	"net/netip"
	"os"
	"testing"
)

// TestPodAddress: a pod keeps its address; new pods take the next free
// one after the last handed out, so a freed address comes back last; a
// full subnet is an error; an address outside a new subnet is replaced.
func TestPodAddress(t *testing.T) {
	r := &Runtime{stateDir: t.TempDir()}
	subnet := netip.MustParsePrefix("10.9.0.0/29") // .2 to .6 for pods
	steps := []struct {
		pod     string
		free    string // a pod killed first (its state dir goes)
		want    string
		wantErr bool
	}{
		{pod: "a", want: "10.9.0.2"},
		{pod: "a", want: "10.9.0.2"},
		{pod: "b", want: "10.9.0.3"},
		{pod: "c", free: "a", want: "10.9.0.4"},
		{pod: "d", want: "10.9.0.5"},
		{pod: "e", want: "10.9.0.6"},
		{pod: "f", want: "10.9.0.2"},
		{pod: "g", wantErr: true},
		{pod: "b", want: "10.9.0.3"},
	}
	for i, s := range steps {
		if s.free != "" {
			if err := os.RemoveAll(r.podDir(s.free)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := r.podAddress(s.pod, subnet)
		if s.wantErr {
			if err == nil {
				t.Fatalf("step %d: pod %s got %s from a full subnet", i, s.pod, got)
			}
			continue
		}
		if err != nil || got != netip.MustParseAddr(s.want) {
			t.Fatalf("step %d: pod %s = %v, %v; want %s", i, s.pod, got, err, s.want)
		}
	}
	moved, err := r.podAddress("b", netip.MustParsePrefix("10.9.1.0/29"))
	if err != nil || !netip.MustParsePrefix("10.9.1.0/29").Contains(moved) {
		t.Fatalf("after the subnet changed, b = %v, %v", moved, err)
	}
}
