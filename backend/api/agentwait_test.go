package api_test

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/api"
	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
)

// registerAgentNode creates the Node of a joined node as its agent would,
// at addr ("" for none yet).
func registerAgentNode(t *testing.T, env *testenv.Env, token, name, addr string) {
	t.Helper()
	node := map[string]any{"metadata": map[string]any{"name": name}}
	if addr != "" {
		node["status"] = nodeAddress(t, addr)
	}
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/nodes", token, node), http.StatusCreated)
}

// moveNode publishes the node's agent at addr, as an agent does when it
// starts again.
func moveNode(t *testing.T, env *testenv.Env, token, name, addr string) {
	t.Helper()
	mustCode(t, env.Do(t, http.MethodPatch, "/api/v1/nodes/"+name+"/status", token,
		map[string]any{"status": nodeAddress(t, addr)}, "application/merge-patch+json"), http.StatusOK)
}

func nodeAddress(t *testing.T, addr string) map[string]any {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	return map[string]any{
		"addresses":       []any{map[string]string{"type": "InternalIP", "address": host}},
		"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]int{"Port": port}},
	}
}

// freeAddr is a loopback address where nothing listens (a moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logAsync asks for a pod's log and returns where its answer comes.
func logAsync(env *testenv.Env, path string) <-chan testenv.Response {
	out := make(chan testenv.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, env.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- testenv.Response{Code: -1, Body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		var r testenv.Response
		r.Code = resp.StatusCode
		buf := make([]byte, 64<<10)
		n, _ := resp.Body.Read(buf)
		r.Body = buf[:n]
		out <- r
	}()
	return out
}

// internalAddress matches what a user must never be shown of the cluster:
// addresses, ports, TLS and socket errors.
var internalAddress = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|:\d{2,5}\b|x509|certificate|dial|tcp|tls`)

// After a restart of the master or of a node's agent, the Node may not
// carry the agent's (new) address yet, or nothing may answer there yet:
// pod operations waited for nothing and answered 503 at once, with the
// address and the dial error in the message. They wait for the agent now
// (AgentWait at most), and a failure names the node only.
func TestPodOperationsWaitForTheAgent(t *testing.T) {
	const wait = 4 * time.Second
	// How long after the request the agent comes: well inside the wait.
	const late = 500 * time.Millisecond
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) { cfg.AgentWait = wait }})
	createNamespace(t, env, env.AdminToken, "demo")

	t.Run("the node has not published its agent's address yet", func(t *testing.T) {
		n := joinNode(t, env, "n1")
		registerAgentNode(t, env, n.Token, "n1", "")
		bindPod(t, env, "demo", "web1", "n1")
		answer := logAsync(env, "/api/v1/namespaces/demo/pods/web1/log")
		time.Sleep(late) // the agent starts
		addr := freeAddr(t)
		startFakeAgentOn(t, addr, n.serving(t), n.caPool(t))
		moveNode(t, env, n.Token, "n1", addr)
		if got := <-answer; got.Code != http.StatusOK {
			t.Fatalf("answered %d %s, want the log", got.Code, got.Body)
		}
	})

	t.Run("nothing answers at the address yet", func(t *testing.T) {
		n := joinNode(t, env, "n2")
		addr := freeAddr(t)
		registerAgentNode(t, env, n.Token, "n2", addr)
		bindPod(t, env, "demo", "web2", "n2")
		answer := logAsync(env, "/api/v1/namespaces/demo/pods/web2/log?follow=true")
		time.Sleep(late) // the agent starts on the address it had
		startFakeAgentOn(t, addr, n.serving(t), n.caPool(t))
		if got := <-answer; got.Code != http.StatusOK {
			t.Fatalf("answered %d %s, want the log", got.Code, got.Body)
		}
	})

	t.Run("an agent that does not come back", func(t *testing.T) {
		n := joinNode(t, env, "n3")
		registerAgentNode(t, env, n.Token, "n3", freeAddr(t))
		bindPod(t, env, "demo", "web3", "n3")
		asked := time.Now()
		got := <-logAsync(env, "/api/v1/namespaces/demo/pods/web3/log")
		if waited := time.Since(asked); waited < wait-time.Second {
			t.Errorf("gave up after %v, want about %v", waited, wait)
		}
		status := authnStatus(t, got, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable)
		if !regexp.MustCompile(`node "n3"`).MatchString(status.Message) || internalAddress.MatchString(status.Message) {
			t.Errorf("message %q: want the node named and no address", status.Message)
		}
		s, resp := dialLog(t, env, "/api/v1/namespaces/demo/pods/web3/log?follow=true", bearer(env.AdminToken), api.LogProtocolBinary)
		if s == nil {
			t.Fatalf("upgrade refused: %d %s", resp.Code, resp.Body)
		}
		read := s.read(t, 2*wait, nil)
		if read.code != api.CloseStatusBase+http.StatusServiceUnavailable || read.status == nil || internalAddress.MatchString(read.status.Message) || internalAddress.MatchString(read.reason) {
			t.Errorf("the socket ended %d %q with %+v: want 4503 and no address", read.code, read.reason, read.status)
		}
	})

	t.Run("another agent answers at the address", func(t *testing.T) {
		n4, n5 := joinNode(t, env, "n4"), joinNode(t, env, "n5")
		impostor := startFakeAgent(t, n5.serving(t), n5.caPool(t))
		registerAgentNode(t, env, n4.Token, "n4", impostor.srv.Listener.Addr().String())
		bindPod(t, env, "demo", "web4", "n4")
		got := <-logAsync(env, "/api/v1/namespaces/demo/pods/web4/log")
		status := authnStatus(t, got, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable)
		if internalAddress.MatchString(status.Message) {
			t.Errorf("message %q names an address or a certificate", status.Message)
		}
		if n := len(impostor.requests()); n != 0 {
			t.Errorf("the other node's agent received %d requests", n)
		}
	})
}
