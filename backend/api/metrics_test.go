package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/berthpaas/berth/backend/testenv"
)

// Every unknown path a user asked for used to become a label value of the
// request metrics: a loop over made-up paths grew the master's memory
// without end. Only what the API serves is named now.
func TestMetricsLabelsAreBounded(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	alice := env.CreateUser(t, "alice", false)
	for i := range 30 {
		for _, path := range []string{
			fmt.Sprintf("/api/v1/made-up-%d", i),
			fmt.Sprintf("/api/v1/namespaces/default/made-up-ns-%d", i),
			fmt.Sprintf("/apis/evil.example/v%d/things", i),
			fmt.Sprintf("/apis/berth.dev/v1/made-up-berth-%d", i),
		} {
			env.Do(t, http.MethodGet, path, alice, nil)
		}
		env.Do(t, fmt.Sprintf("FROB%d", i), "/api/v1/namespaces", alice, nil)
	}
	mustCode(t, env.Do(t, http.MethodGet, "/api/v1/namespaces", alice, nil), http.StatusOK)

	resp := env.Do(t, http.MethodGet, "/metrics", env.AdminToken, nil)
	mustCode(t, resp, http.StatusOK)
	series := regexp.MustCompile(`(?m)^berth_apiserver_requests_total\{.*$`).FindAll(resp.Body, -1)
	for _, s := range series {
		if bytes.Contains(s, []byte("made-up")) || bytes.Contains(s, []byte("evil")) || bytes.Contains(bytes.ToLower(s), []byte("frob")) {
			t.Errorf("a made-up path or method became a label: %s", s)
		}
	}
	if len(series) > 12 {
		t.Errorf("%d request series after 150 made-up requests, want a handful:\n%s", len(series), bytes.Join(series, []byte("\n")))
	}
	for _, want := range []string{
		`berth_apiserver_requests_total{code="200",resource="namespaces",verb="list"}`,
		`berth_apiserver_requests_total{code="404",resource="other",verb="list"}`,
		`berth_audit_dropped_total 0`,
	} {
		if !bytes.Contains(resp.Body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
