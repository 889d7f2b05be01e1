package server

import (
	"context"
	"crypto/rand"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// continueKeyKey holds the key that signs list continue tokens. It lives
// in etcd so that every master of a cluster signs with the same one.
const continueKeyKey = "/berth/continue-token-key"

// clusterSecret returns the secret stored at key, creating it (32 random
// bytes) on the first start of the first master.
func clusterSecret(ctx context.Context, etcd *clientv3.Client, key string) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh) // never fails; see crypto/rand.Read
	resp, err := etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(fresh))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("load cluster secret %s: %w", key, err)
	}
	if resp.Succeeded {
		return fresh, nil
	}
	return resp.Responses[0].GetResponseRange().Kvs[0].Value, nil
}
