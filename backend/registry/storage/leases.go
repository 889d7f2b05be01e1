package storage

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseReuse is how long one lease serves the creates that ask for the
// same TTL, as kube-apiserver's lease manager does: a lease per event
// would cost etcd a write per create and a lease object each. Objects
// sharing a lease live up to leaseReuse longer than their TTL.
const leaseReuse = time.Minute

// leaseManager hands out etcd leases for objects with a TTL.
type leaseManager struct {
	client *clientv3.Client
	now    func() time.Time

	mu     sync.Mutex
	leases map[int64]grantedLease // by TTL; guarded by mu
}

type grantedLease struct {
	id      clientv3.LeaseID
	reuseTo time.Time
}

func newLeaseManager(client *clientv3.Client) *leaseManager {
	return &leaseManager{client: client, now: time.Now, leases: map[int64]grantedLease{}}
}

// lease returns a lease that outlives ttl seconds from now.
func (m *leaseManager) lease(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[ttl]; ok && now.Before(l.reuseTo) {
		return l.id, nil
	}
	resp, err := m.client.Grant(ctx, ttl+int64(leaseReuse/time.Second))
	if err != nil {
		return 0, err
	}
	m.leases[ttl] = grantedLease{id: resp.ID, reuseTo: now.Add(leaseReuse)}
	return resp.ID, nil
}
