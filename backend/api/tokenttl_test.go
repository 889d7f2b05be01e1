package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A user was issued a token that lives 266 years. Lifetimes are bounded
// now: one year unless the server says otherwise (--max-token-ttl).
func TestTokenLifetimeIsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		max     time.Duration // 0: the default
		ttl     string
		code    int
		expires time.Duration // when created
	}{
		{"266 years", 0, "2330160h", http.StatusUnprocessableEntity, 0},
		{"a year and an hour", 0, "8761h", http.StatusUnprocessableEntity, 0},
		{"a year", 0, "8760h", http.StatusCreated, 8760 * time.Hour},
		{"no ttl: 90 days", 0, "", http.StatusCreated, 90 * 24 * time.Hour},
		{"over a server maximum of 1h", time.Hour, "2h", http.StatusUnprocessableEntity, 0},
		{"at a server maximum of 1h", time.Hour, "1h", http.StatusCreated, time.Hour},
		{"no ttl under a maximum of 1h", time.Hour, "", http.StatusCreated, time.Hour},
	}
	envs := map[time.Duration]*testenv.Env{}
	for _, max := range []time.Duration{0, time.Hour} {
		envs[max] = testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) { cfg.MaxTokenTTL = max }})
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := envs[tt.max]
			body := map[string]any{"metadata": map[string]string{"name": "t" + string(rune('a'+i))}, "spec": map[string]string{"ttl": tt.ttl}}
			resp := env.Do(t, http.MethodPost, "/apis/berth.dev/v1/tokens", env.AdminToken, body)
			if tt.code != http.StatusCreated {
				status := authnStatus(t, resp, tt.code, metav1.StatusReasonInvalid)
				if status.Details == nil || !slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool { return c.Field == "spec.ttl" }) {
					t.Errorf("the refusal does not name spec.ttl: %+v", status)
				}
				return
			}
			mustCode(t, resp, http.StatusCreated)
			var tok authnToken
			resp.JSON(t, &tok)
			if exp := tok.Status.ExpiresAt; exp == nil || time.Until(exp.Time) > tt.expires || time.Until(exp.Time) < tt.expires-time.Minute {
				t.Errorf("expires at %v, want in %v", exp, tt.expires)
			}
		})
	}
}
