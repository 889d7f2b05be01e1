package leader_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/etcdserver"
	"github.com/berthpaas/berth/backend/leader"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func startEtcd(t *testing.T) *etcdserver.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts an embedded etcd; skipped in -short mode")
	}
	srv, err := etcdserver.Start(t.Context(), filepath.Join(t.TempDir(), "etcd"), slog.New(slog.DiscardHandler), etcdserver.Options{UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// candidate campaigns with a client of its own, so that closing the client
// kills its session as a crashed master would.
type candidate struct {
	id     string
	client *clientv3.Client
	// leading is set while fn runs.
	leading atomic.Bool
	terms   atomic.Int32
}

func TestOneLeaderAtATimeAndTakeover(t *testing.T) {
	srv := startEtcd(t)
	var active atomic.Int32
	var overlap atomic.Bool
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); wg.Wait() }()

	candidates := make([]*candidate, 2)
	for i, id := range []string{"master-a", "master-b"} {
		client, err := srv.Client()
		if err != nil {
			t.Fatal(err)
		}
		c := &candidate{id: id, client: client}
		candidates[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			leader.Run(ctx, client, "controllers", id, slog.New(slog.DiscardHandler), func(ctx context.Context) {
				if active.Add(1) > 1 {
					overlap.Store(true)
				}
				c.leading.Store(true)
				c.terms.Add(1)
				<-ctx.Done()
				c.leading.Store(false)
				active.Add(-1)
			})
		}()
	}
	t.Cleanup(func() {
		for _, c := range candidates {
			c.client.Close()
		}
	})

	first := waitForLeader(t, candidates, 10*time.Second)
	// Leadership is stable while both are healthy: the leader's session
	// lease is renewed, and it still leads after the renewal.
	waitLeaseRenewed(t, first.client, "controllers", 3*leader.SessionTTL*time.Second)
	if !first.leading.Load() || first.terms.Load() != 1 {
		t.Fatalf("%s lost leadership while healthy (terms %d)", first.id, first.terms.Load())
	}
	var second *candidate
	for _, c := range candidates {
		if c != first {
			second = c
		}
	}
	if second.leading.Load() {
		t.Fatal("both candidates lead")
	}

	start := time.Now()
	first.client.Close()
	deadline := time.Now().Add(3 * leader.SessionTTL * time.Second)
	for !second.leading.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not take over within %s of the leader's crash", second.id, 3*leader.SessionTTL*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s took over after %s", second.id, time.Since(start).Round(time.Millisecond))
	if first.leading.Load() {
		t.Error("the crashed leader still runs its work")
	}
	if overlap.Load() {
		t.Error("two candidates ran their work at the same time")
	}
}

func TestResignsWhenContextEnds(t *testing.T) {
	srv := startEtcd(t)
	client, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		leader.Run(ctx, client, "solo", "only", slog.New(slog.DiscardHandler), func(ctx context.Context) {
			close(started)
			<-ctx.Done()
		})
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the only candidate was not elected")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	resp, err := client.Get(t.Context(), leader.Prefix+"solo", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Errorf("%d election keys left after resigning", resp.Count)
	}
}

// waitLeaseRenewed waits until the lease of the election's leader key is
// seen renewed: its time to live, read from etcd, goes up again.
func waitLeaseRenewed(t *testing.T, client *clientv3.Client, election string, within time.Duration) {
	t.Helper()
	resp, err := client.Get(t.Context(), leader.Prefix+election, clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("the leader's key of %q: %v (%d keys)", election, err, len(resp.Kvs))
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	deadline := time.Now().Add(within)
	lowest := int64(leader.SessionTTL + 1)
	for {
		ttl, err := client.TimeToLive(t.Context(), lease)
		if err != nil {
			t.Fatalf("time to live of the leader's lease: %v", err)
		}
		if ttl.TTL <= 0 {
			t.Fatalf("the leader's lease expired (TTL %d)", ttl.TTL)
		}
		if ttl.TTL > lowest {
			return
		}
		lowest = min(lowest, ttl.TTL)
		if time.Now().After(deadline) {
			t.Fatalf("the leader's lease was not renewed within %s (TTL down to %ds)", within, lowest)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitForLeader(t *testing.T, candidates []*candidate, within time.Duration) *candidate {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, c := range candidates {
			if c.leading.Load() {
				return c
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no leader within %s", within)
	return nil
}
