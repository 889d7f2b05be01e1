// Package allocator hands out the numbered items of a finite range to
// owners and keeps every claim in etcd: no two owners ever hold one item,
// however many masters allocate at once, and claims outlive restarts. The
// pod subnets of nodes are such items (Subnets). (Services claim their
// cluster IPs and node ports in their own writes: core.serviceAllocator.)
//
// A claim is two keys, written and removed together in one transaction:
//
//	/registry/ranges/<name>/items/<item>    → owner
//	/registry/ranges/<name>/owners/<owner>  → item
//
// so an owner holds at most one item of a range, and an item has at most
// one owner. Item numbers are stored as they are: give them a meaning that
// survives a change of the range (a subnet's position in the whole address
// space, not in the configured range), so that a master restarted with a
// wider range still sees what the old one handed out.
package allocator

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berthpaas/berth/backend/errdefs"
)

// Errors of a Range, each of an errdefs class.
var (
	// ErrFull: every item of the range is held. [ErrUnavailable]
	ErrFull = errdefs.New(errdefs.ErrUnavailable, "range is full")
	// ErrTaken: another owner holds the item. [ErrConflict]
	ErrTaken = errdefs.New(errdefs.ErrConflict, "already allocated")
	// ErrOutOfRange: the item is not in the range. [ErrBadRequest]
	ErrOutOfRange = errdefs.New(errdefs.ErrBadRequest, "not in the range")
)

// maxAttempts bounds the retries of a claim that lost a race with
// another master.
const maxAttempts = 16

// Range is the items first, first+1, ..., first+size-1, claimed in etcd.
// It is safe for concurrent use, also by several masters.
type Range struct {
	client      *clientv3.Client
	prefix      string
	first, size int
}

// New returns the range name (a key segment, such as "podcidrs") of size
// items from first.
func New(client *clientv3.Client, name string, first, size int) *Range {
	return &Range{client: client, prefix: "/registry/ranges/" + name + "/", first: first, size: size}
}

func (r *Range) itemKey(item int) string { return r.prefix + "items/" + strconv.Itoa(item) }

func (r *Range) ownerKey(owner string) string { return r.prefix + "owners/" + url.PathEscape(owner) }

func (r *Range) contains(item int) bool { return item >= r.first && item < r.first+r.size }

// Held returns the item owner holds; ok is false when it holds none. The
// item may lie outside the range when the range changed since it was
// claimed.
func (r *Range) Held(ctx context.Context, owner string) (item int, ok bool, err error) {
	resp, err := r.client.Get(ctx, r.ownerKey(owner))
	if err != nil {
		return 0, false, fmt.Errorf("allocation of %q: %w", owner, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, false, nil
	}
	item, err = strconv.Atoi(string(resp.Kvs[0].Value))
	if err != nil {
		return 0, false, fmt.Errorf("allocation of %q: corrupt item %q", owner, resp.Kvs[0].Value)
	}
	return item, true, nil
}

// Allocate returns the item owner holds, or claims the lowest free one
// for it. It fails with ErrFull when every item is held.
func (r *Range) Allocate(ctx context.Context, owner string) (int, error) {
	if item, ok, err := r.Held(ctx, owner); err != nil || ok {
		return item, err
	}
	for range maxAttempts {
		claims, err := r.Claims(ctx)
		if err != nil {
			return 0, err
		}
		free := false
		// Down the free items of this listing, however stale: the
		// transaction keeps each claim safe, and an item lost to another
		// master costs one round trip, not a new listing.
		for i := r.first; i < r.first+r.size; i++ {
			if _, taken := claims[i]; taken {
				continue
			}
			free = true
			won, held, err := r.claim(ctx, owner, i)
			switch {
			case err != nil:
				return 0, err
			case won:
				return i, nil
			case held >= 0:
				return held, nil // a concurrent call for the same owner won
			}
		}
		if !free {
			return 0, fmt.Errorf("allocate for %q: %w", owner, ErrFull)
		}
	}
	return 0, errdefs.Newf(errdefs.ErrConflict, "allocate for %q: lost every race with other allocations; try again", owner)
}

// Claim gives item to owner. It is no error if owner holds it already;
// it fails with ErrOutOfRange for an item outside the range, ErrTaken
// when another owner holds it, and ErrConflict when owner holds another.
func (r *Range) Claim(ctx context.Context, owner string, item int) error {
	if !r.contains(item) {
		return fmt.Errorf("item %d: %w", item, ErrOutOfRange)
	}
	return r.Keep(ctx, owner, item)
}

// Keep is Claim for an item that may lie outside the range: one that was
// handed out before the range changed and is still in use.
func (r *Range) Keep(ctx context.Context, owner string, item int) error {
	won, held, err := r.claim(ctx, owner, item)
	switch {
	case err != nil || won:
		return err
	case held == item:
		return nil
	case held >= 0:
		return errdefs.Newf(errdefs.ErrConflict, "%q holds %d already, not %d", owner, held, item)
	}
	return fmt.Errorf("item %d: %w", item, ErrTaken)
}

// claim writes the claim if neither the item nor the owner has one. When
// it does not, held is the item the owner holds, or -1.
func (r *Range) claim(ctx context.Context, owner string, item int) (won bool, held int, err error) {
	ik, ok := r.itemKey(item), r.ownerKey(owner)
	resp, err := r.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(ik), "=", 0), clientv3.Compare(clientv3.ModRevision(ok), "=", 0)).
		Then(clientv3.OpPut(ik, owner), clientv3.OpPut(ok, strconv.Itoa(item))).
		Else(clientv3.OpGet(ok)).
		Commit()
	if err != nil {
		return false, -1, fmt.Errorf("claim %d for %q: %w", item, owner, err)
	}
	if resp.Succeeded {
		return true, item, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return false, -1, nil
	}
	held, err = strconv.Atoi(string(kvs[0].Value))
	if err != nil {
		return false, -1, fmt.Errorf("allocation of %q: corrupt item %q", owner, kvs[0].Value)
	}
	return false, held, nil
}

// Release frees the item owner holds; an owner that holds none is no
// error.
func (r *Range) Release(ctx context.Context, owner string) error {
	for range maxAttempts {
		item, ok, err := r.Held(ctx, owner)
		if err != nil || !ok {
			return err
		}
		ik, ok2 := r.itemKey(item), r.ownerKey(owner)
		resp, err := r.client.Txn(ctx).
			If(clientv3.Compare(clientv3.Value(ok2), "=", strconv.Itoa(item))).
			Then(clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.Value(ik), "=", owner)},
				[]clientv3.Op{clientv3.OpDelete(ik), clientv3.OpDelete(ok2)},
				// An item that names someone else is theirs: only the
				// owner's half of the claim goes.
				[]clientv3.Op{clientv3.OpDelete(ok2)},
			)).
			Commit()
		if err != nil {
			return fmt.Errorf("release the item of %q: %w", owner, err)
		}
		if resp.Succeeded {
			return nil
		}
	}
	return errdefs.Newf(errdefs.ErrConflict, "release the item of %q: it kept changing", owner)
}

// Claims returns every claim of the range (also those outside it, from
// before it changed): the owner of each held item.
func (r *Range) Claims(ctx context.Context) (map[int]string, error) {
	resp, err := r.client.Get(ctx, r.prefix+"items/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("claims of %s: %w", r.prefix, err)
	}
	out := make(map[int]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		item, err := strconv.Atoi(strings.TrimPrefix(string(kv.Key), r.prefix+"items/"))
		if err != nil {
			continue // not a key this package writes
		}
		out[item] = string(kv.Value)
	}
	return out, nil
}
