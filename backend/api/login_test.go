package api_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/backend/server"
	"github.com/berthpaas/berth/backend/testenv"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// clientFrom is an HTTP client whose connections leave from the local
// address ip (any 127.0.0.0/8 address is loopback on Linux): a login
// attempt "from another machine" as far as the server can tell.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// post sends a POST with client and returns the answer.
func post(t *testing.T, client *http.Client, url, contentType, body string, header map[string]string) testenv.Response {
	t.Helper()
	return send(t, client, http.MethodPost, url, contentType, body, header)
}

// send sends a request with client and returns the answer.
func send(t *testing.T, client *http.Client, method, url, contentType, body string, header map[string]string) testenv.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Code: resp.StatusCode, Body: data, Header: resp.Header}
}

func loginJSON(user, password string) string {
	return `{"username":"` + user + `","password":"` + password + `"}`
}

// Five wrong passwords for the admin from anywhere used to lock the admin
// out everywhere. Now the guesser is held back, not the admin.
func TestLoginGuessingLocksOutTheGuesserOnly(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	attacker, otherAttacker, admin := clientFrom("127.0.0.2"), clientFrom("127.0.0.3"), clientFrom("127.0.0.1")
	login := func(c *http.Client, user, password string) testenv.Response {
		return post(t, c, env.URL+"/auth/login", "application/json", loginJSON(user, password), nil)
	}

	for i := range 5 {
		authnStatus(t, login(attacker, "admin", "guess-"+string(rune('a'+i))), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	}
	// The guesser is stopped, even with the right password (it cannot tell).
	resp := login(attacker, "ADMIN", env.AdminPassword)
	status := authnStatus(t, resp, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests)
	if resp.Header.Get("Retry-After") == "" || status.Details == nil || status.Details.RetryAfterSeconds <= 0 {
		t.Errorf("429 without a retry time: Retry-After %q, %+v", resp.Header.Get("Retry-After"), status.Details)
	}
	// The admin, from another address, is not.
	mustCode(t, login(admin, "admin", env.AdminPassword), http.StatusOK)

	// One address trying many names is stopped after 20 failures, for
	// every name; other addresses are not.
	for i := range 20 {
		authnStatus(t, login(otherAttacker, "user-"+string(rune('a'+i)), "wrong-password"), http.StatusUnauthorized, metav1.StatusReasonUnauthorized)
	}
	authnStatus(t, login(otherAttacker, "admin", env.AdminPassword), http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests)
	mustCode(t, login(admin, "admin", env.AdminPassword), http.StatusOK)
}

// A page of another site could sign the victim's browser in to the
// attacker's account (login CSRF) with a text/plain or form POST, which
// browsers send across origins without asking.
func TestLoginCSRFRefused(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	body := loginJSON("admin", env.AdminPassword)
	tests := []struct {
		name        string
		contentType string
		body        string
		origin      string
		code        int
	}{
		{"text/plain from another site", "text/plain", body, "https://evil.example", http.StatusUnsupportedMediaType},
		{"text/plain without an origin", "text/plain;charset=UTF-8", body, "", http.StatusUnsupportedMediaType},
		{"a form", "application/x-www-form-urlencoded", "username=admin&password=" + env.AdminPassword, "", http.StatusUnsupportedMediaType},
		{"no content type", "", body, "", http.StatusUnsupportedMediaType},
		{"JSON from another site", "application/json", body, "https://evil.example", http.StatusForbidden},
		{"JSON from this server's page", "application/json", body, env.URL, http.StatusOK},
		{"JSON without an origin (CLI)", "application/json; charset=utf-8", body, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{}
			if tt.origin != "" {
				header["Origin"] = tt.origin
			}
			resp := post(t, http.DefaultClient, env.URL+"/auth/login", tt.contentType, tt.body, header)
			if resp.Code != tt.code {
				t.Fatalf("got %d, want %d: %s", resp.Code, tt.code, resp.Body)
			}
			if tt.code != http.StatusOK && len(resp.Header.Values("Set-Cookie")) > 0 {
				t.Errorf("a refused login set cookies: %q", resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// nonLoopbackIP is an address of this machine that is not loopback.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no non-loopback IPv4 address to log in from")
	return ""
}

func tlsClientFrom(t *testing.T, env *testenv.Env, ip string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(env.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{
		// The certificate names localhost and 127.0.0.1: dial the other
		// address, verify as 127.0.0.1.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return tls.DialWithDialer(d, network, addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		},
	}}
}

// A session started over plain HTTP got a cookie without Secure, and a
// password could be sent in clear from any machine.
func TestLoginTransport(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Options{Configure: func(cfg *server.Config) { cfg.Listen = "0.0.0.0:0" }})
	ip := nonLoopbackIP(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	remote := "http://" + net.JoinHostPort(ip, port)
	body := loginJSON("admin", env.AdminPassword)

	t.Run("plain HTTP from another machine is refused", func(t *testing.T) {
		resp := post(t, clientFrom(ip), remote+"/auth/login", "application/json", body, nil)
		status := authnStatus(t, resp, http.StatusForbidden, metav1.StatusReasonForbidden)
		if !strings.Contains(status.Message, "https://"+net.JoinHostPort(ip, port)+"/") {
			t.Errorf("the refusal does not point at HTTPS: %q", status.Message)
		}
		if len(resp.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("a refused login set cookies: %q", resp.Header.Values("Set-Cookie"))
		}
	})
	t.Run("a password change over plain HTTP from another machine is refused", func(t *testing.T) {
		resp := send(t, clientFrom(ip), http.MethodPut, remote+"/apis/berth.dev/v1/users/admin/password", "application/json",
			`{"currentPassword":"`+env.AdminPassword+`","newPassword":"sent in clear"}`,
			map[string]string{"Authorization": "Bearer " + env.AdminToken})
		status := authnStatus(t, resp, http.StatusForbidden, metav1.StatusReasonForbidden)
		if !strings.Contains(status.Message, "https://") {
			t.Errorf("the refusal does not point at HTTPS: %q", status.Message)
		}
		env.Login(t, "admin", env.AdminPassword) // unchanged
	})
	t.Run("a new user's password over plain HTTP from another machine is refused", func(t *testing.T) {
		resp := send(t, clientFrom(ip), http.MethodPost, remote+"/apis/berth.dev/v1/users", "application/json",
			`{"metadata":{"name":"cleartext"},"spec":{"password":"sent in clear"}}`,
			map[string]string{"Authorization": "Bearer " + env.AdminToken})
		authnStatus(t, resp, http.StatusForbidden, metav1.StatusReasonForbidden)
		mustCode(t, env.Do(t, "GET", "/apis/berth.dev/v1/users/cleartext", env.AdminToken, nil), http.StatusNotFound)
	})
	tests := []struct {
		name   string
		client *http.Client
		url    string
		hsts   bool
	}{
		{"HTTPS from another machine", tlsClientFrom(t, env, ip), "https://" + net.JoinHostPort(ip, port), true},
		{"plain HTTP over loopback", clientFrom("127.0.0.1"), "http://127.0.0.1:" + port, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" gets Secure cookies", func(t *testing.T) {
			resp := post(t, tt.client, tt.url+"/auth/login", "application/json", body, nil)
			mustCode(t, resp, http.StatusOK)
			cookies := (&http.Response{Header: resp.Header}).Cookies()
			if len(cookies) != 2 {
				t.Fatalf("cookies %v, want the session and CSRF ones", cookies)
			}
			for _, c := range cookies {
				if !c.Secure {
					t.Errorf("cookie %s is not Secure", c.Name)
				}
			}
			if got := resp.Header.Get("Strict-Transport-Security") != ""; got != tt.hsts {
				t.Errorf("HSTS sent: %v, want %v (%q)", got, tt.hsts, resp.Header.Get("Strict-Transport-Security"))
			}
		})
	}
}

// HSTS goes on every TLS answer (the API, the console, errors), never on
// plain HTTP, and not to localhost, where it would pin every local
// development server to HTTPS.
func TestStrictTransportSecurity(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	tlsClient := env.TLSClient(t)
	tests := []struct {
		name   string
		client *http.Client
		url    string
		host   string
		want   bool
	}{
		{"TLS", tlsClient, env.HTTPSURL + "/healthz", "", true},
		{"TLS, an error", tlsClient, env.HTTPSURL + "/api/v1/namespaces", "", true},
		{"TLS to a host name", tlsClient, env.HTTPSURL + "/version", "berth.example:443", true},
		{"TLS to localhost", tlsClient, env.HTTPSURL + "/healthz", "localhost:8443", false},
		{"TLS to a localhost subdomain", tlsClient, env.HTTPSURL + "/healthz", "console.localhost", false},
		{"plain HTTP", http.DefaultClient, env.URL + "/healthz", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Values("Strict-Transport-Security")
			if tt.want && !slices.Equal(got, []string{"max-age=31536000"}) || !tt.want && len(got) > 0 {
				t.Errorf("Strict-Transport-Security %q, want it: %v", got, tt.want)
			}
		})
	}
}
