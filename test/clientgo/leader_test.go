package clientgo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// client-go's leader election on a coordination.k8s.io Lease, run by a
// project member in their project: one leads; when it stops, the other
// takes over.
func TestLeaderElectionOnALease(t *testing.T) {
	env := testenv.Start(t)
	token := env.CreateUser(t, "olga", false)
	cs := clientset(t, env, token)
	namespace(t, cs, "ops")

	var mu sync.Mutex
	var leaders []string
	elect := func(ctx context.Context, id string) {
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: "ops", Name: "my-operator"},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true,
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					mu.Lock()
					leaders = append(leaders, id)
					mu.Unlock()
					<-ctx.Done()
				},
				OnStoppedLeading: func() {},
			},
		})
	}
	ctxA, stopA := context.WithCancel(t.Context())
	defer stopA()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { elect(ctxA, "a") })
	eventually(t, 10*time.Second, "a leader", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(leaders) == 1
	})
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	wg.Go(func() { elect(ctxB, "b") })
	stopA()
	eventually(t, 15*time.Second, "the other takes over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(leaders) == 2 && leaders[0] == "a" && leaders[1] == "b"
	})
	lease, err := cs.CoordinationV1().Leases("ops").Get(t.Context(), "my-operator", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "b" {
		t.Fatalf("lease %+v, %v", lease, err)
	}
	stopB()
}
