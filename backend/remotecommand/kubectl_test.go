package remotecommand

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthpaas/berth/backend/node/runtime"
	"github.com/berthpaas/berth/internal/testbin"
)

// TestMain removes the kubectl that testbin builds for TestKubectlExec.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// fakeAPIServer answers what `kubectl exec` asks for: discovery, the pod
// "web" in "default", and its exec subresource served by Serve with run.
// Each exec request arrives on the channel.
func fakeAPIServer(t *testing.T, run RunFunc) (url string, requests <-chan *http.Request) {
	t.Helper()
	protocols := make(chan *http.Request, 16)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		reply(w, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
	})
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, r *http.Request) {
		reply(w, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}})
	})
	mux.HandleFunc("GET /api/v1", func(w http.ResponseWriter, r *http.Request) {
		reply(w, metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"},
					Verbs: metav1.Verbs{"get", "list"}},
				{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: metav1.Verbs{"create", "get"}},
				{Name: "pods/attach", Namespaced: true, Kind: "PodAttachOptions", Verbs: metav1.Verbs{"create", "get"}},
			},
		})
	})
	mux.HandleFunc("GET /api/v1/namespaces/default/pods/web", func(w http.ResponseWriter, r *http.Request) {
		reply(w, v1.Pod{
			TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-web"},
			Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "busybox"}}},
			Status:     v1.PodStatus{Phase: v1.PodRunning},
		})
	})
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/exec", func(w http.ResponseWriter, r *http.Request) {
		protocols <- r
		opts, err := ParseOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if opts.Container != "web" {
			http.Error(w, "container "+strconv.Quote(opts.Container)+" not found", http.StatusBadRequest)
			return
		}
		if err := Serve(w, r, opts, func(ctx context.Context, s runtime.Streams) (int, error) {
			ctx = context.WithValue(ctx, commandKey{}, opts.Command)
			return run(ctx, s)
		}); err != nil {
			t.Logf("Serve: %v", err)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Logf("fake API server: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, protocols
}

type commandKey struct{}

// fakeShell runs a few commands: cat, and `exit N`.
func fakeShell(ctx context.Context, s runtime.Streams) (int, error) {
	cmd, _ := ctx.Value(commandKey{}).([]string)
	switch {
	case len(cmd) == 1 && cmd[0] == "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case len(cmd) == 2 && cmd[0] == "exit":
		return strconv.Atoi(cmd[1])
	default:
		io.WriteString(s.Stderr, "unknown command\n")
		return 127, nil
	}
}

func TestKubectlExec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kubectl from source; skipped in -short mode")
	}
	kubectl := testbin.Kubectl(t)
	server, offered := fakeAPIServer(t, fakeShell)
	home := t.TempDir()

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStdout string
		wantExit   int
		// spdy turns kubectl's websockets off (its own switch), so that it
		// speaks SPDY as kubectl before 1.29 and client-go tools do.
		spdy bool
	}{
		{name: "cat stdin", args: []string{"-i", "web", "--", "cat"}, stdin: "hello", wantStdout: "hello"},
		{name: "exit code", args: []string{"web", "--", "exit", "3"}, wantExit: 3},
		{name: "SPDY cat stdin", args: []string{"-i", "web", "--", "cat"}, stdin: "hello", wantStdout: "hello", spdy: true},
		{name: "SPDY exit code", args: []string{"web", "--", "exit", "3"}, wantExit: 3, spdy: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			args := append([]string{"--server", server, "--insecure-skip-tls-verify", "--token", "x",
				"--cache-dir", filepath.Join(home, "cache"), "exec"}, tt.args...)
			cmd := exec.CommandContext(ctx, kubectl, args...)
			cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+filepath.Join(home, "none"),
				"KUBECTL_REMOTE_COMMAND_WEBSOCKETS="+strconv.FormatBool(!tt.spdy))
			cmd.Stdin = strings.NewReader(tt.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exit := 0
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				exit = exitErr.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.wantExit {
				t.Errorf("kubectl exit = %d, want %d; stderr:\n%s", exit, tt.wantExit, stderr.String())
			}
			if got := stdout.String(); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q; stderr:\n%s", got, tt.wantStdout, stderr.String())
			}
			select {
			case r := <-offered:
				switch {
				case tt.spdy && !IsSPDYUpgrade(r):
					t.Errorf("kubectl asked for %q, want SPDY", r.Header.Get("Upgrade"))
				case !tt.spdy && negotiate(websocket.Subprotocols(r)) != ProtocolV5:
					t.Errorf("kubectl offered %q, want %s", websocket.Subprotocols(r), ProtocolV5)
				}
			default:
				t.Error("kubectl did not reach the exec endpoint")
			}
		})
	}
}
