package api_test

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/berthpaas/berth/backend/api"
	"github.com/berthpaas/berth/backend/testenv"
)

// A follow that the node's agent cut short (the agent stopping, its
// engine failing) reached clients as a log that ended, and `berth logs -f`
// or the console took it for the container's end. The agent aborts such a
// stream; the master passes that on: over HTTP the response breaks
// (kubectl and the CLI see an unexpected EOF, not the end), over the
// websocket the close is 4503, not 1000, and names no address. A log that
// ended still ends cleanly.
func TestLogCutShortIsNotAnEnd(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Options{})
	createNamespace(t, env, env.AdminToken, "cut")
	tests := []struct {
		name  string
		node  string
		serve http.HandlerFunc
		// wantBreak: the HTTP body breaks; wantClose: the socket's close.
		wantBreak bool
		wantClose int
	}{
		{"cut short", "cutnode", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "line one\n")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // as node.Agent.serveLog does
		}, true, api.CloseStatusBase + http.StatusServiceUnavailable},
		{"ended", "endnode", func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "line one\n")
		}, false, websocket.CloseNormalClosure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := joinNode(t, env, tt.node)
			agent := startFakeAgentServing(t, "127.0.0.1:0", n.serving(t), n.caPool(t), tt.serve)
			agent.publish(t, env, n.Token, tt.node)
			pod := "web-" + tt.node
			bindPod(t, env, "cut", pod, tt.node)
			path := "/api/v1/namespaces/cut/pods/" + pod + "/log?follow=true"

			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, env.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+env.AdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "line one\n" {
				t.Fatalf("HTTP: %d %q", resp.StatusCode, body)
			}
			if broke := errors.Is(err, io.ErrUnexpectedEOF); broke != tt.wantBreak {
				t.Errorf("HTTP: the body ended with %v; want a break: %v", err, tt.wantBreak)
			}

			s, up := dialLog(t, env, path, bearer(env.AdminToken), api.LogProtocolBinary)
			if s == nil {
				t.Fatalf("upgrade refused: %d %s", up.Code, up.Body)
			}
			got := s.read(t, 10*time.Second, nil)
			if string(got.data) != "line one\n" || got.code != tt.wantClose {
				t.Errorf("websocket: %q, closed %d %q; want the line and %d", got.data, got.code, got.reason, tt.wantClose)
			}
			if got.status != nil && internalAddress.MatchString(got.status.Message+got.reason) {
				t.Errorf("websocket: the failure names an address: %q", got.status.Message)
			}
		})
	}
}
