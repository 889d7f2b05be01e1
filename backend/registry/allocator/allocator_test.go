package allocator_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berthpaas/berth/backend/errdefs"
	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/registry/allocator"
)

// etcd runs an embedded etcd in dir until stop (or the end of the test).
func etcd(t *testing.T, dir string) (c *clientv3.Client, stop func()) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs an embedded etcd; skipped in -short mode")
	}
	srv, err := etcdserver.Start(t.Context(), filepath.Join(dir, "etcd"), slog.New(slog.DiscardHandler), etcdserver.Options{UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err = srv.Client()
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { c.Close(); srv.Stop() }) }
	t.Cleanup(stop)
	return c, stop
}

func TestRange(t *testing.T) {
	c, _ := etcd(t, t.TempDir())
	ctx := t.Context()
	// One range per step list, so that the steps of a case build on each
	// other and cases do not.
	type step struct {
		op      string // allocate, claim, release
		owner   string
		item    int
		want    int
		wantErr error
	}
	cases := []struct {
		name  string
		first int
		size  int
		steps []step
	}{
		{"lowest free first, an owner keeps its item", 10, 3, []step{
			{op: "allocate", owner: "a", want: 10},
			{op: "allocate", owner: "b", want: 11},
			{op: "allocate", owner: "a", want: 10},
		}},
		{"full range", 0, 2, []step{
			{op: "allocate", owner: "a", want: 0},
			{op: "allocate", owner: "b", want: 1},
			{op: "allocate", owner: "c", wantErr: allocator.ErrFull},
			{op: "release", owner: "a"},
			{op: "allocate", owner: "c", want: 0},
		}},
		{"release frees only the owner's item; releasing nothing is fine", 0, 4, []step{
			{op: "allocate", owner: "a", want: 0},
			{op: "allocate", owner: "b", want: 1},
			{op: "release", owner: "a"},
			{op: "release", owner: "a"},
			{op: "release", owner: "nobody"},
			{op: "allocate", owner: "b", want: 1},
			{op: "allocate", owner: "d", want: 0},
		}},
		{"claims", 100, 10, []step{
			{op: "claim", owner: "a", item: 105},
			{op: "claim", owner: "a", item: 105},
			{op: "claim", owner: "b", item: 105, wantErr: allocator.ErrTaken},
			{op: "claim", owner: "a", item: 106, wantErr: errdefs.ErrConflict},
			{op: "claim", owner: "c", item: 110, wantErr: allocator.ErrOutOfRange},
			{op: "claim", owner: "c", item: 99, wantErr: allocator.ErrOutOfRange},
			{op: "allocate", owner: "c", want: 100},
			{op: "allocate", owner: "a", want: 105},
		}},
		{"owners with slashes", 0, 4, []step{
			{op: "allocate", owner: "ns/svc", want: 0},
			{op: "allocate", owner: "ns", want: 1},
			{op: "release", owner: "ns/svc"},
			{op: "allocate", owner: "ns", want: 1},
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := allocator.New(c, fmt.Sprintf("test-%d", i), tc.first, tc.size)
			for j, s := range tc.steps {
				var got int
				var err error
				switch s.op {
				case "allocate":
					got, err = r.Allocate(ctx, s.owner)
				case "claim":
					err, got = r.Claim(ctx, s.owner, s.item), s.want
				case "release":
					err, got = r.Release(ctx, s.owner), s.want
				}
				if s.wantErr != nil {
					if !errors.Is(err, s.wantErr) {
						t.Fatalf("step %d (%s %s): error %v, want %v", j, s.op, s.owner, err, s.wantErr)
					}
					continue
				}
				if err != nil || got != s.want {
					t.Fatalf("step %d (%s %s) = %d, %v; want %d", j, s.op, s.owner, got, err, s.want)
				}
			}
		})
	}
}

// TestRangeNeverTwice races allocations of many owners through two Range
// values (two masters) on one etcd: every owner gets one item, and no
// item goes to two owners.
func TestRangeNeverTwice(t *testing.T) {
	c, _ := etcd(t, t.TempDir())
	masters := []*allocator.Range{allocator.New(c, "race", 0, 64), allocator.New(c, "race", 0, 64)}
	const owners = 48
	got := make([]int, owners)
	errs := make([]error, owners)
	var wg sync.WaitGroup
	for i := range owners {
		wg.Go(func() { got[i], errs[i] = masters[i%2].Allocate(t.Context(), fmt.Sprintf("owner-%d", i)) })
	}
	wg.Wait()
	seen := map[int]int{}
	for i := range owners {
		if errs[i] != nil {
			t.Fatalf("owner-%d: %v", i, errs[i])
		}
		if prev, dup := seen[got[i]]; dup {
			t.Fatalf("item %d went to owner-%d and owner-%d", got[i], prev, i)
		}
		seen[got[i]] = i
	}
	claims, err := masters[0].Claims(t.Context())
	if err != nil || len(claims) != owners {
		t.Fatalf("claims = %d, %v; want %d", len(claims), err, owners)
	}
}

// TestSubnetsAcrossRestart: the subnets handed out are kept when etcd and
// the master restart, and when the master comes back with a wider range.
func TestSubnetsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	c, stop := etcd(t, dir)
	cluster := netip.MustParsePrefix("10.244.0.0/23")
	s, err := allocator.NewSubnets(c, "podcidrs", cluster, 24)
	if err != nil {
		t.Fatal(err)
	}
	for i, node := range []string{"a", "b"} {
		got, err := s.Allocate(t.Context(), node)
		if want := netip.MustParsePrefix(fmt.Sprintf("10.244.%d.0/24", i)); err != nil || got != want {
			t.Fatalf("allocate %s = %v, %v; want %v", node, got, err, want)
		}
	}
	if _, err := s.Allocate(t.Context(), "c"); !errors.Is(err, allocator.ErrFull) {
		t.Fatalf("a third /24 of a /23: %v, want ErrFull", err)
	}
	stop()

	c, _ = etcd(t, dir)
	wider, err := allocator.NewSubnets(c, "podcidrs", netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wider.Allocate(t.Context(), "c")
	if want := netip.MustParsePrefix("10.244.2.0/24"); err != nil || got != want {
		t.Fatalf("after restart, allocate c = %v, %v; want %v", got, err, want)
	}
	if got, err := wider.Allocate(t.Context(), "a"); err != nil || got != netip.MustParsePrefix("10.244.0.0/24") {
		t.Fatalf("after restart, a holds %v, %v", got, err)
	}
	if err := wider.Release(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	if got, err := wider.Allocate(t.Context(), "d"); err != nil || got != netip.MustParsePrefix("10.244.1.0/24") {
		t.Fatalf("b's freed subnet went to d as %v, %v", got, err)
	}
	// A narrower range elsewhere keeps what lies outside it.
	other, err := allocator.NewSubnets(c, "podcidrs", netip.MustParsePrefix("10.245.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Claim(t.Context(), "a", netip.MustParsePrefix("10.244.0.0/24")); !errors.Is(err, allocator.ErrOutOfRange) {
		t.Fatalf("claim outside the range: %v", err)
	}
	if err := other.Keep(t.Context(), "a", netip.MustParsePrefix("10.244.0.0/24")); err != nil {
		t.Fatalf("keep a subnet from before: %v", err)
	}
	if err := other.Keep(t.Context(), "x", netip.MustParsePrefix("10.244.0.0/24")); !errors.Is(err, allocator.ErrTaken) {
		t.Fatalf("keep another's subnet: %v", err)
	}
}

func TestSubnetClaims(t *testing.T) {
	c, _ := etcd(t, t.TempDir())
	s, err := allocator.NewSubnets(c, "podcidrs", netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		owner   string
		subnet  string
		wantErr error
	}{
		{"free subnet", "n1", "10.244.7.0/24", nil},
		{"the same again", "n1", "10.244.7.0/24", nil},
		{"taken", "n2", "10.244.7.0/24", allocator.ErrTaken},
		{"owner holds another", "n1", "10.244.8.0/24", errdefs.ErrConflict},
		{"outside the cluster range", "n3", "10.245.0.0/24", allocator.ErrOutOfRange},
		{"wrong size", "n3", "10.244.8.0/25", allocator.ErrOutOfRange},
		{"not a network address", "n3", "10.244.8.1/24", allocator.ErrOutOfRange},
		{"IPv6", "n3", "fd00::/120", allocator.ErrOutOfRange},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Claim(t.Context(), tc.owner, netip.MustParsePrefix(tc.subnet))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("claim %s for %s: %v, want %v", tc.subnet, tc.owner, err, tc.wantErr)
			}
		})
	}
	claims, err := s.Claims(t.Context())
	if err != nil || len(claims) != 1 || claims[netip.MustParsePrefix("10.244.7.0/24")] != "n1" {
		t.Fatalf("claims = %v, %v", claims, err)
	}
}

func TestCheckSubnetting(t *testing.T) {
	cases := []struct {
		cluster string
		bits    int
		ok      bool
	}{
		{"10.244.0.0/16", 24, true},
		{"10.0.0.0/8", 24, true},
		{"10.244.0.0/24", 24, true},
		{"10.244.0.0/25", 24, false},
		{"10.244.0.0/16", 31, false},
		{"fd00::/64", 120, false},
	}
	for _, tc := range cases {
		err := allocator.CheckSubnetting(netip.MustParsePrefix(tc.cluster), tc.bits)
		if (err == nil) != tc.ok {
			t.Errorf("CheckSubnetting(%s, %d) = %v, want ok=%v", tc.cluster, tc.bits, err, tc.ok)
		}
	}
}
