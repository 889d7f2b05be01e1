package storage

import (
	"context"
	"fmt"

	"github.com/berthpaas/berth/backend/errdefs"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Claim is a key that reserves a value for the one object that holds it,
// where no two objects may hold the same value (a service's cluster IP,
// a node port). A claim is written in the transaction that stores its
// object, only if no other object holds it, and is removed in the one
// that removes the object or its value: a value is never handed out
// twice, and never lost by a crash between two writes.
type Claim struct {
	// Key is the claim's etcd key, e.g. /registry/ranges/serviceips/10.96.0.1.
	Key string
	// Holder names the object that holds it (namespace/name and uid).
	Holder string
}

// ErrClaimTaken: a claim is held by another object. [ErrConflict]
var ErrClaimTaken = errdefs.New(errdefs.ErrConflict, "the value is held by another object")

// ClaimTakenError names the claim that another object holds.
type ClaimTakenError struct {
	Key string
}

func (e *ClaimTakenError) Error() string { return fmt.Sprintf("claim %q: %v", e.Key, ErrClaimTaken) }
func (e *ClaimTakenError) Unwrap() error { return ErrClaimTaken }

// Claimed returns the claims under prefix: the holder of each key.
func (s *Store) Claimed(ctx context.Context, prefix string) (map[string]string, error) {
	resp, err := s.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list the claims under %q: %w", prefix, err)
	}
	out := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out, nil
}

// claimsFree are the conditions that every claim is free.
func claimsFree(claims []Claim) []clientv3.Cmp {
	conds := make([]clientv3.Cmp, 0, len(claims))
	for _, c := range claims {
		conds = append(conds, clientv3.Compare(clientv3.CreateRevision(c.Key), "=", 0))
	}
	return conds
}

func claimPuts(claims []Claim) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(claims))
	for _, c := range claims {
		ops = append(ops, clientv3.OpPut(c.Key, c.Holder))
	}
	return ops
}

// claimChanges are the claims that updated holds and current does not
// (to take), and the keys of those current holds and updated does not
// (to release).
func claimChanges(current, updated []Claim) (take []Claim, release []string) {
	held := make(map[string]bool, len(current))
	for _, c := range current {
		held[c.Key] = true
	}
	kept := make(map[string]bool, len(updated))
	for _, c := range updated {
		kept[c.Key] = true
		if !held[c.Key] {
			take = append(take, c)
		}
	}
	for _, c := range current {
		if !kept[c.Key] {
			release = append(release, c.Key)
		}
	}
	return take, release
}

// checkClaims returns a *ClaimTakenError for the first claim that is held.
func (s *Store) checkClaims(ctx context.Context, claims []Claim) error {
	for _, c := range claims {
		resp, err := s.client.Get(ctx, c.Key, clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("claim %q: %w", c.Key, err)
		}
		if resp.Count > 0 {
			return &ClaimTakenError{Key: c.Key}
		}
	}
	return nil
}
