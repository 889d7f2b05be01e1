package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// agentSecretKey holds the secret the masters present to node agents. It
// lives in etcd so that every master of a cluster presents the same one.
const agentSecretKey = "/berth/agent-proxy-secret"

// loadAgentSecret returns the cluster's agent secret, creating it on the
// first start of the first master.
func loadAgentSecret(ctx context.Context, etcd *clientv3.Client) (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	fresh := base64.RawURLEncoding.EncodeToString(buf)
	resp, err := etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(agentSecretKey), "=", 0)).
		Then(clientv3.OpPut(agentSecretKey, fresh)).
		Else(clientv3.OpGet(agentSecretKey)).
		Commit()
	if err != nil {
		return "", fmt.Errorf("load agent secret: %w", err)
	}
	if resp.Succeeded {
		return fresh, nil
	}
	return string(resp.Responses[0].GetResponseRange().Kvs[0].Value), nil
}
