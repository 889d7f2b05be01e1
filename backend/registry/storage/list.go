package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// ListOptions select a page of a list.
type ListOptions struct {
	// Limit is the most items to return; zero means all.
	Limit int64
	// Continue is the token from a previous page; it pins the revision.
	Continue string
	// Revision, when not zero and there is no Continue, reads the list as
	// it was at that revision (ErrCompacted when it is gone).
	Revision int64
}

// ListResult is one page of a list.
type ListResult struct {
	Items []runtime.Object
	// Revision is the etcd revision the list reflects.
	Revision int64
	// Continue is set when more items may follow.
	Continue string
}

// Predicate reports whether an object belongs in a list or watch; nil
// matches everything.
type Predicate func(runtime.Object) bool

// continueToken is where the next page of a list starts. It is signed:
// a client cannot make one up to read from a revision of its choosing
// (from before its namespace existed, say) or to start elsewhere.
type continueToken struct {
	Revision int64  `json:"rv"`
	Start    string `json:"start"`
}

// List returns the objects under prefix that match, in key order, at one
// revision. With a limit, it returns at most limit matching items and a
// continue token when more keys remain. A continue token whose revision
// was compacted gives ErrCompacted.
func (s *Store) List(ctx context.Context, prefix string, opts ListOptions, newItem func() runtime.Object, match Predicate) (ListResult, error) {
	start, rev := prefix, int64(0)
	if opts.Continue != "" {
		tok, err := s.decodeContinue(opts.Continue, prefix)
		if err != nil {
			return ListResult{}, err
		}
		start, rev = tok.Start, tok.Revision
	} else if opts.Revision > 0 {
		rev = opts.Revision
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	var result ListResult
	for {
		getOpts := []clientv3.OpOption{clientv3.WithRange(end)}
		if rev != 0 {
			getOpts = append(getOpts, clientv3.WithRev(rev))
		}
		if opts.Limit > 0 {
			getOpts = append(getOpts, clientv3.WithLimit(opts.Limit-int64(len(result.Items))))
		}
		resp, err := s.client.Get(ctx, start, getOpts...)
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return ListResult{}, fmt.Errorf("list %q at revision %d: %w", prefix, rev, ErrCompacted)
			}
			return ListResult{}, fmt.Errorf("list %q: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			obj := newItem()
			if err := s.decode(string(kv.Key), kv.Value, kv.ModRevision, obj); err != nil {
				return ListResult{}, fmt.Errorf("list %q: key %q: %w", prefix, kv.Key, err)
			}
			if match == nil || match(obj) {
				result.Items = append(result.Items, obj)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		if opts.Limit > 0 && int64(len(result.Items)) >= opts.Limit {
			result.Continue = s.encodeContinue(prefix, continueToken{Revision: rev, Start: start})
			break
		}
	}
	result.Revision = rev
	return result, nil
}

// encodeContinue signs tok for the list of prefix: base64(JSON) "." base64(HMAC).
func (s *Store) encodeContinue(prefix string, tok continueToken) string {
	data, _ := json.Marshal(tok)
	return base64.RawURLEncoding.EncodeToString(data) + "." + base64.RawURLEncoding.EncodeToString(s.continueMAC(prefix, data))
}

func (s *Store) continueMAC(prefix string, data []byte) []byte {
	mac := hmac.New(sha256.New, s.continueKey)
	mac.Write([]byte(prefix))
	mac.Write([]byte{0})
	mac.Write(data)
	return mac.Sum(nil)
}

// decodeContinue checks a token's signature and that it continues a list
// of prefix; ErrBadContinue otherwise.
func (s *Store) decodeContinue(token, prefix string) (continueToken, error) {
	var tok continueToken
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return tok, ErrBadContinue
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return tok, ErrBadContinue
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.continueMAC(prefix, data)) {
		return tok, ErrBadContinue
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.Revision <= 0 || !strings.HasPrefix(tok.Start, prefix) {
		return tok, ErrBadContinue
	}
	return tok, nil
}

// ContinueRevision returns the revision a continue token of the list of
// prefix pins, once its signature is checked.
func (s *Store) ContinueRevision(token, prefix string) (int64, error) {
	tok, err := s.decodeContinue(token, prefix)
	return tok.Revision, err
}

// RawItem is a stored object as etcd holds it, without its resourceVersion.
type RawItem struct {
	Value    []byte
	Revision int64
}

// RawListResult is one page of a list, undecoded.
type RawListResult struct {
	Items    []RawItem
	Revision int64
	Continue string
}

// ListRaw is List without decoding and without a predicate: the stored
// bytes of every object under prefix, for callers that can pass them
// through (a plain JSON list is most of a LIST request's work otherwise).
func (s *Store) ListRaw(ctx context.Context, prefix string, opts ListOptions) (RawListResult, error) {
	start, rev := prefix, int64(0)
	if opts.Continue != "" {
		tok, err := s.decodeContinue(opts.Continue, prefix)
		if err != nil {
			return RawListResult{}, err
		}
		start, rev = tok.Start, tok.Revision
	}
	getOpts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if rev != 0 {
		getOpts = append(getOpts, clientv3.WithRev(rev))
	}
	if opts.Limit > 0 {
		getOpts = append(getOpts, clientv3.WithLimit(opts.Limit))
	}
	resp, err := s.client.Get(ctx, start, getOpts...)
	if err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			return RawListResult{}, fmt.Errorf("list %q at revision %d: %w", prefix, rev, ErrCompacted)
		}
		return RawListResult{}, fmt.Errorf("list %q: %w", prefix, err)
	}
	if rev == 0 {
		rev = resp.Header.Revision
	}
	out := RawListResult{Revision: rev, Items: make([]RawItem, len(resp.Kvs))}
	for i, kv := range resp.Kvs {
		value, err := s.fromStorage(string(kv.Key), kv.Value)
		if err != nil {
			return RawListResult{}, fmt.Errorf("list %q: %w", prefix, err)
		}
		out.Items[i] = RawItem{Value: value, Revision: kv.ModRevision}
	}
	if resp.More && len(resp.Kvs) > 0 {
		out.Continue = s.encodeContinue(prefix, continueToken{Revision: rev, Start: string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"})
	}
	return out, nil
}

// metadataOpen is how every stored object's metadata begins: encoding/json
// writes the inline TypeMeta strings first, so the first occurrence is the
// object's own metadata.
var metadataOpen = []byte(`"metadata":{`)

// AppendWithResourceVersion appends the stored object to dst with its
// resourceVersion written into its metadata, as Get would return it.
func AppendWithResourceVersion(dst []byte, item RawItem) []byte {
	i := bytes.Index(item.Value, metadataOpen)
	if i < 0 {
		return append(dst, item.Value...)
	}
	cut := i + len(metadataOpen)
	dst = append(dst, item.Value[:cut]...)
	dst = append(dst, `"resourceVersion":"`...)
	dst = strconv.AppendInt(dst, item.Revision, 10)
	dst = append(dst, '"')
	if cut < len(item.Value) && item.Value[cut] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, item.Value[cut:]...)
}
