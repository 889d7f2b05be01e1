package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berthpaas/berth/backend/streams"
	"github.com/gorilla/websocket"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startWithNode runs a master with a node agent on the fake runtime (berth
// up --node-runtime fake), configured further by configure, and returns it
// with the node's name once the node has registered.
func startWithNode(t *testing.T, configure func(*server.Config)) (*testenv.Env, string) {
	t.Helper()
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) {
		cfg.RunNode, cfg.NodeRuntime = true, "fake"
		if configure != nil {
			configure(cfg)
		}
	}})
	name, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	name = strings.ToLower(name)
	waitUntil(t, 30*time.Second, "the fake node registers", func() bool {
		return env.Do(t, http.MethodGet, "/api/v1/nodes/"+name, env.AdminToken, nil).Code == http.StatusOK
	})
	return env, name
}

// runningPod creates a pod bound to node in ns and waits until the agent
// runs it.
func runningPod(t *testing.T, env *testenv.Env, token, ns, name, node string) {
	t.Helper()
	p := pod(name, nil)
	p["spec"].(map[string]any)["nodeName"] = node
	mustCode(t, env.Do(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods", token, p), http.StatusCreated)
	waitUntil(t, 30*time.Second, "pod "+name+" runs", func() bool {
		return getPod(t, env, ns, name).Status.Phase == v1.PodRunning
	})
}

// waitUntil polls cond until it holds, failing t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sinceSeconds=9223372036854775807 reached the node, whose arithmetic
// overflowed into a 500; the integer (and time) parameters of a pod's log
// are checked at the API now, and a bad one is a 400 that names it.
func TestPodSubresourceParameters(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, nil)
	createNamespace(t, env, env.AdminToken, "params")
	runningPod(t, env, env.AdminToken, "params", "web", node)
	base := "/api/v1/namespaces/params/pods/web/"
	tests := []struct {
		query string
		code  int
		param string // named in the 400's message
	}{
		{"log?sinceSeconds=9223372036854775807", 400, "sinceSeconds"},
		{"log?sinceSeconds=0", 400, "sinceSeconds"},
		{"log?sinceSeconds=-5", 400, "sinceSeconds"},
		{"log?sinceSeconds=1e3", 400, "sinceSeconds"},
		{"log?sinceSeconds=60&sinceSeconds=x", 400, "sinceSeconds"},
		{"log?tailLines=-1", 400, "tailLines"},
		{"log?tailLines=99999999999999999999", 400, "tailLines"},
		{"log?limitBytes=0", 400, "limitBytes"},
		{"log?limitBytes=abc", 400, "limitBytes"},
		{"log?sinceTime=yesterday", 400, "sinceTime"},
		{"log?sinceTime=2025-01-01T00:00:00Z&sinceSeconds=10", 400, "sinceTime"},
		{"log?sinceSeconds=9223372036&tailLines=9223372036854775807&limitBytes=1&timestamps=true", 200, ""},
		{"log?sinceSeconds=3600&tailLines=0&follow=false", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp := env.Do(t, http.MethodGet, base+tt.query, env.AdminToken, nil)
			if tt.code == http.StatusOK {
				mustCode(t, resp, http.StatusOK)
				return
			}
			status := authnStatus(t, resp, tt.code, metav1.StatusReasonBadRequest)
			if !strings.Contains(status.Message, tt.param) {
				t.Errorf("the 400 does not name %s: %q", tt.param, status.Message)
			}
		})
	}
}

// openStream is a long-lived request as a client holds it: the answer's
// headers have come, the body is read in the background, and ended is
// closed when the server ends the body.
type openStream struct {
	code  int
	retry string // Retry-After
	body  []byte // of a refusal
	close func()
	ended chan struct{}
}

// streamGet starts a GET that streams (a watch, a log follow) with token.
func streamGet(t *testing.T, env *testenv.Env, path, token string) *openStream {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	s := &openStream{code: resp.StatusCode, retry: resp.Header.Get("Retry-After"), ended: make(chan struct{})}
	if resp.StatusCode != http.StatusOK {
		s.body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		close(s.ended)
		s.close = func() {}
		return s
	}
	go func() {
		defer close(s.ended)
		io.Copy(io.Discard, resp.Body)
	}()
	s.close = func() { cancel(); resp.Body.Close(); <-s.ended }
	t.Cleanup(s.close)
	return s
}

// attach opens an attach session over a websocket (kubectl's v5
// protocol) with token; it stays open until closed: the fake runtime
// echoes stdin for as long as it is open.
func attach(t *testing.T, env *testenv.Env, ns, pod, token string) (*websocket.Conn, *http.Response) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	h := http.Header{"Authorization": {"Bearer " + token}}
	url := "ws" + strings.TrimPrefix(env.URL, "http") + "/api/v1/namespaces/" + ns + "/pods/" + pod + "/attach?stdin=true&stdout=true"
	conn, resp, err := d.Dial(url, h)
	if err != nil {
		return nil, resp
	}
	t.Cleanup(func() { conn.Close() })
	return conn, resp
}

// attachEnded waits for the server to close an attach session.
func attachEnded(t *testing.T, conn *websocket.Conn, within time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(within))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the attach session is still open after %v", within)
			}
			return
		}
	}
}

func waitEnded(t *testing.T, s *openStream, what string, within time.Duration) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(within):
		t.Fatalf("%s still streams %v later", what, within)
	}
}

func stillOpen(t *testing.T, s *openStream, what string) {
	t.Helper()
	select {
	case <-s.ended:
		t.Fatalf("%s ended", what)
	default:
	}
}

// openStreams reads berth_streams_open of kind from the metrics.
func openStreams(t *testing.T, env *testenv.Env, kind string) int {
	t.Helper()
	return metricValue(t, env, "berth_streams_open", kind)
}

// metricValue reads a metric of the streams, by kind.
func metricValue(t *testing.T, env *testenv.Env, name, kind string) int {
	t.Helper()
	resp := env.Do(t, http.MethodGet, "/metrics", env.AdminToken, nil)
	m := regexp.MustCompile(`(?m)^` + name + `\{kind="` + kind + `"\} (\d+)$`).FindSubmatch(resp.Body)
	if m == nil {
		t.Fatalf("no %s for %s in the metrics", name, kind)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// One user opened 1,000 watches and all were accepted. Watches, log
// follows and exec/attach sessions are bounded per user and in total now:
// 429 with Retry-After past a limit, and a slot is free again once a
// stream ends.
func TestStreamLimits(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, func(cfg *server.Config) {
		cfg.StreamLimits = streams.Limits{
			PerUser: map[streams.Kind]int{streams.Watch: 2, streams.Log: 1, streams.Exec: 1},
			Total:   map[streams.Kind]int{streams.Watch: 6},
		}
	})
	alice := env.CreateUser(t, "alice", false)
	bob := env.CreateUser(t, "bob", false)
	createNamespace(t, env, alice, "limits")
	runningPod(t, env, alice, "limits", "web", node)
	watch := "/api/v1/namespaces/limits/pods?watch=1"
	refused := func(t *testing.T, s *openStream, limit string) {
		t.Helper()
		if s.code != http.StatusTooManyRequests || s.retry == "" {
			t.Fatalf("got %d (Retry-After %q): %s; want 429 with Retry-After", s.code, s.retry, s.body)
		}
		if !strings.Contains(string(s.body), limit) {
			t.Errorf("the refusal does not say which limit (%q): %s", limit, s.body)
		}
	}

	t.Run("watches per user", func(t *testing.T) {
		w1, w2 := streamGet(t, env, watch, alice), streamGet(t, env, watch, alice)
		mustCode(t, testenv.Response{Code: w1.code}, http.StatusOK)
		mustCode(t, testenv.Response{Code: w2.code}, http.StatusOK)
		refused(t, streamGet(t, env, watch, alice), "per user")
		t.Run("in total", func(t *testing.T) {
			createNamespace(t, env, env.AdminToken, "bobs")
			mustCode(t, env.Do(t, http.MethodPost, "/apis/berth.dev/v1/namespaces/bobs/members", env.AdminToken,
				map[string]any{"metadata": map[string]string{"name": "bob"}, "spec": map[string]string{"role": "view"}}), http.StatusCreated)
			// The node agent's watches count too: fill what is left, with
			// users that are each under their own limit.
			fillers := []string{bob, env.AdminToken, bob, env.AdminToken}
			for n := openStreams(t, env, "watch"); n < 6; n++ {
				b := streamGet(t, env, "/api/v1/namespaces/bobs/pods?watch=1", fillers[0])
				fillers = fillers[1:]
				mustCode(t, testenv.Response{Code: b.code, Body: b.body}, http.StatusOK)
				defer b.close()
			}
			refused(t, streamGet(t, env, "/api/v1/namespaces/bobs/pods?watch=1", fillers[0]), "this server")
		})
		w1.close()
		waitUntil(t, 10*time.Second, "the closed watch's slot to be free", func() bool {
			s := streamGet(t, env, watch, alice)
			defer s.close()
			return s.code == http.StatusOK
		})
	})
	t.Run("log follows", func(t *testing.T) {
		follow := "/api/v1/namespaces/limits/pods/web/log?follow=true"
		l1 := streamGet(t, env, follow, alice)
		mustCode(t, testenv.Response{Code: l1.code}, http.StatusOK)
		refused(t, streamGet(t, env, follow, alice), "log")
		// A log read that does not follow is not a stream.
		mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces/limits/pods/web/log", alice, nil), http.StatusOK)
		l1.close()
		waitUntil(t, 10*time.Second, "the closed follow's slot to be free", func() bool {
			s := streamGet(t, env, follow, alice)
			defer s.close()
			return s.code == http.StatusOK
		})
	})
	t.Run("exec and attach", func(t *testing.T) {
		a1, resp := attach(t, env, "limits", "web", alice)
		if a1 == nil {
			t.Fatalf("attach: %v", resp)
		}
		_, resp = attach(t, env, "limits", "web", alice)
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a second attach: %v, want 429 with Retry-After", resp)
		}
		a1.Close()
		waitUntil(t, 10*time.Second, "the closed session's slot to be free", func() bool {
			conn, _ := attach(t, env, "limits", "web", alice)
			if conn != nil {
				conn.Close()
			}
			return conn != nil
		})
	})
	for _, kind := range []string{"watch", "log", "exec"} {
		if n := metricValue(t, env, "berth_streams_refused_total", kind); n < 1 {
			t.Errorf("berth_streams_refused_total{kind=%q} = %d, want the refusals counted", kind, n)
		}
	}
}

// auditRows reads the audit entries of streams (those with a stage) of a
// user.
type auditRow struct {
	Verb, Resource, Name, Stage, Details string
	Code                                 int
}

func streamAudit(t *testing.T, env *testenv.Env, user string) []auditRow {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT verb, resource, name, stage, details, code FROM audit_log
		WHERE username = $1 AND stage <> '' ORDER BY id`, user)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Exec, attach and log sessions were not audited, and they, watches too,
// went on after their token was revoked or its user logged out. Every
// stream a credential opened ends now when it is revoked (at once on this
// master), and sessions are audited as they start and end.
func TestStreamsEndWithTheirCredential(t *testing.T) {
	t.Parallel()
	env, node := startWithNode(t, nil)
	alice := env.CreateUser(t, "alice", false)
	createNamespace(t, env, alice, "revoke")
	runningPod(t, env, alice, "revoke", "web", node)
	resp := env.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", alice,
		map[string]any{"metadata": map[string]string{"name": "laptop"}, "spec": map[string]string{"ttl": "1h"}})
	mustCode(t, resp, http.StatusCreated)
	var tok authnToken
	resp.JSON(t, &tok)
	laptop := tok.Status.Secret
	watch := "/api/v1/namespaces/revoke/pods?watch=1"
	follow := "/api/v1/namespaces/revoke/pods/web/log?follow=true"

	open := func(t *testing.T, secret string) (*openStream, *openStream, *websocket.Conn) {
		t.Helper()
		w, l := streamGet(t, env, watch, secret), streamGet(t, env, follow, secret)
		if w.code != http.StatusOK || l.code != http.StatusOK {
			t.Fatalf("watch %d, follow %d: %s %s", w.code, l.code, w.body, l.body)
		}
		a, r := attach(t, env, "revoke", "web", secret)
		if a == nil {
			t.Fatalf("attach: %v", r)
		}
		return w, l, a
	}
	const promptly = 5 * time.Second

	t.Run("revoking a token", func(t *testing.T) {
		w, l, a := open(t, laptop)
		otherWatch := streamGet(t, env, watch, alice)
		revoked := time.Now()
		mustCode(t, env.Do(t, http.MethodDelete, "/apis/berth.dev/v1/tokens/laptop", alice, nil), http.StatusOK)
		waitEnded(t, w, "the revoked token's watch", promptly)
		t.Logf("the watch ended %v after the revocation was asked for", time.Since(revoked).Round(time.Millisecond))
		waitEnded(t, l, "the revoked token's log follow", promptly)
		attachEnded(t, a, promptly)
		stillOpen(t, otherWatch, "the watch of another credential of the same user")
	})
	t.Run("logging out", func(t *testing.T) {
		session := env.Login(t, "alice", authnPassword)
		w, l, a := open(t, session)
		mustCode(t, env.Do(t, http.MethodPost, "/auth/logout", session, nil), http.StatusNoContent)
		waitEnded(t, w, "the logged-out session's watch", promptly)
		waitEnded(t, l, "the logged-out session's log follow", promptly)
		attachEnded(t, a, promptly)
	})
	t.Run("deleting the user", func(t *testing.T) {
		w, l, a := open(t, alice)
		mustCode(t, env.Do(t, http.MethodDelete, "/apis/berth.dev/v1/users/alice", env.AdminToken, nil), http.StatusOK)
		waitEnded(t, w, "the deleted user's watch", promptly)
		waitEnded(t, l, "the deleted user's log follow", promptly)
		attachEnded(t, a, promptly)
	})

	t.Run("sessions are audited as they start and end", func(t *testing.T) {
		var got []auditRow
		waitUntil(t, 10*time.Second, "the audit entries", func() bool {
			got = streamAudit(t, env, "alice")
			return len(got) >= 12 // a log and an attach, started and ended, three times
		})
		want := map[string]int{}
		for _, r := range got {
			var d struct {
				Container       string   `json:"container"`
				Follow          bool     `json:"follow"`
				DurationSeconds *float64 `json:"durationSeconds"`
				EndedBy         string   `json:"endedBy"`
			}
			if err := json.Unmarshal([]byte(r.Details), &d); err != nil {
				t.Fatalf("details %q: %v", r.Details, err)
			}
			if r.Name != "web" || d.Container != "web" || (r.Resource != "pods/log" && r.Resource != "pods/attach") {
				t.Errorf("entry %+v: want pod web, container web, pods/log or pods/attach", r)
			}
			if r.Resource == "pods/log" && !d.Follow {
				t.Errorf("log entry %+v does not say it followed", r)
			}
			switch r.Stage {
			case "ResponseStarted":
				if r.Code != http.StatusOK && r.Code != http.StatusSwitchingProtocols {
					t.Errorf("start entry %+v: want 200 or 101", r)
				}
			case "ResponseComplete":
				if d.DurationSeconds == nil {
					t.Errorf("end entry %+v without a duration", r)
				}
				want[d.EndedBy]++
			}
		}
		if want["credential revoked"] < 6 {
			t.Errorf("end entries by cause %v, want 6 that say the credential was revoked", want)
		}
	})
}

// A revocation made on one master reached the streams of another only
// when they ended on their own. The other master re-checks the
// credentials of its streams and ends them within its interval.
func TestStreamsEndOnOtherMasters(t *testing.T) {
	t.Parallel()
	first := testenv.Start(t)
	alice := first.CreateUser(t, "alice", false)
	createNamespace(t, first, alice, "elsewhere")
	// A second master on the same database, with an etcd of its own.
	dir := t.TempDir()
	pw, err := os.ReadFile(filepath.Join(first.DataDir, "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "admin-password"), pw, 0o600); err != nil {
		t.Fatal(err)
	}
	const interval = 200 * time.Millisecond
	second := testenv.Start(t, testenv.Options{DataDir: dir, DatabaseURL: first.DatabaseURL, Configure: func(cfg *server.Config) {
		cfg.StreamRecheckInterval = interval
	}})
	createNamespace(t, second, second.AdminToken, "elsewhere")
	mustCode(t, second.Do(t, http.MethodPut, "/apis/berth.dev/v1/namespaces/elsewhere/members/alice", second.AdminToken,
		map[string]any{"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"role": "view"}}), http.StatusOK)

	w := streamGet(t, second, "/api/v1/namespaces/elsewhere/pods?watch=1", alice)
	mustCode(t, testenv.Response{Code: w.code, Body: w.body}, http.StatusOK)
	started := time.Now()
	mustCode(t, first.Do(t, http.MethodPost, "/auth/logout", alice, nil), http.StatusNoContent)
	waitEnded(t, w, "the watch on the other master", 10*interval+5*time.Second)
	t.Logf("the other master ended the watch %v after the logout (re-check every %v)", time.Since(started).Round(time.Millisecond), interval)
}
