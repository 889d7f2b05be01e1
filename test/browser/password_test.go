package browser

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// signInAs signs in on the sign-in page and waits for the shell to name
// the user.
func signInAs(t *testing.T, b *browser, user, password string) {
	t.Helper()
	b.typeInto(t, "#login-username", user)
	b.typeInto(t, "#login-password", password)
	b.click(t, "#login-submit")
	b.waitJS(t, user+" signed in", `document.querySelector('[data-test=current-user]')?.textContent === `+jsString(user))
}

// TestPasswordPage changes passwords in the console, over berth up's
// plain http://127.0.0.1 console whose session cookie is Secure: a user
// changes their own (their other sessions end, this one stays), a
// cluster admin sets another user's, and a console whose session was
// ended elsewhere goes back to sign-in by itself.
func TestPasswordPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test of a real berth up with Chromium; skipped in -short mode")
	}
	c := startCluster(t)
	b := startBrowser(t, c.url)
	s := &story{t: t, b: b}
	const first, second, third = "alice-password-1", "alice-password-2", "reset-by-the-admin"
	resp := c.api.Do(t, http.MethodPost, "/apis/berth.dev/v1/users", c.api.AdminToken, map[string]any{
		"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"password": first}})
	if resp.Code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", resp.Code, resp.Body)
	}
	elsewhere := c.api.Login(t, "alice", first) // alice signed in on another machine

	s.step("01 sign in over http://127.0.0.1 with a Secure cookie", func(t *testing.T) {
		b.do(t, "open the console", chromedp.Navigate(b.base+"/"))
		b.waitJS(t, "the sign-in form", `document.querySelector('#login-username')`)
		signInAs(t, b, "alice", first)
		var cookies []*network.Cookie
		b.do(t, "read the cookies", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
			cookies = res.Cookies
			return err
		}))
		found := false
		for _, ck := range cookies {
			if ck.Name == "berth_session" {
				found = true
				if !ck.Secure || !ck.HTTPOnly {
					t.Errorf("session cookie Secure %v HttpOnly %v, want both", ck.Secure, ck.HTTPOnly)
				}
			}
		}
		if !found {
			t.Fatalf("Chromium kept no berth_session cookie from %s: %v", b.base, cookies)
		}
	})

	s.step("02 change one's own password", func(t *testing.T) {
		b.click(t, "[data-test=nav-password]")
		b.waitJS(t, "the password page", `location.hash === '#/password' && document.querySelector('#password-current')`)
		b.shot(t, "password")

		b.typeInto(t, "#password-current", first)
		b.typeInto(t, "#password-new", second)
		b.typeInto(t, "#password-again", second+"x")
		b.click(t, "[data-test=change-password]")
		b.waitJS(t, "the mismatch", `document.querySelector('[data-error-for=againPassword]')?.textContent.trim()`)

		b.expect(http.StatusForbidden, "/apis/berth.dev/v1/users/alice/password")
		b.typeInto(t, "#password-current", "not-my-password")
		b.typeInto(t, "#password-again", second)
		b.click(t, "[data-test=change-password]")
		b.waitJS(t, "the wrong current password", `document.querySelector('[data-error-for=currentPassword]')?.textContent.includes('current password is wrong')`)
		b.shot(t, "password-wrong")

		b.typeInto(t, "#password-current", first)
		b.click(t, "[data-test=change-password]")
		b.waitJS(t, "the change", `(() => { const d = document.querySelector('[data-test=password-changed]'); return d && !d.hidden; })()`)
		t.Logf("the page says: %q", eval[string](t, b, `document.querySelector('[data-test=password-changed]').textContent`))
		b.shot(t, "password-changed")
		if resp := c.api.Do(t, http.MethodGet, "/apis/berth.dev/v1/whoami", elsewhere, nil); resp.Code != http.StatusUnauthorized {
			t.Errorf("alice's other session after the change: %d, want 401", resp.Code)
		}
		b.click(t, "[data-test=nav-projects]")
		b.waitJS(t, "the projects page, still signed in", `location.hash === '#/projects' && document.querySelector('berth-projects-page .page-header')`)
	})

	s.step("03 an admin sets another user's password", func(t *testing.T) {
		signOut(t, b)
		signIn(t, b, "admin", c.admin)
		b.click(t, "[data-test=nav-password]")
		b.waitJS(t, "the admin's form", `document.querySelector('#reset-user')`)
		b.typeInto(t, "#reset-user", "alice")
		b.typeInto(t, "#reset-password", third)
		b.click(t, "[data-test=reset-password]")
		b.waitJS(t, "the reset", `(() => { const d = document.querySelector('[data-test=password-reset]'); return d && !d.hidden; })()`)
		b.shot(t, "password-reset")
		signOut(t, b)
		b.expect(http.StatusUnauthorized, "/auth/login")
		b.typeInto(t, "#login-username", "alice")
		b.typeInto(t, "#login-password", second)
		b.click(t, "#login-submit")
		b.waitJS(t, "the refusal of the old password", `(() => { const e = document.querySelector('[data-test=login-error]'); return e && !e.hidden; })()`)
		signInAs(t, b, "alice", third)
	})

	s.step("04 a session ended elsewhere signs the console out", func(t *testing.T) {
		for _, req := range []struct {
			path string
			body any
		}{
			{"/api/v1/namespaces", map[string]any{"metadata": map[string]string{"name": "alices"}}},
			{"/apis/berth.dev/v1/namespaces/alices/members", map[string]any{"metadata": map[string]string{"name": "alice"}, "spec": map[string]string{"role": "edit"}}},
		} {
			if resp := c.api.Do(t, http.MethodPost, req.path, c.api.AdminToken, req.body); resp.Code != http.StatusCreated {
				t.Fatalf("POST %s: %d %s", req.path, resp.Code, resp.Body)
			}
		}
		b.goTo(t, "/projects/alices")
		b.waitJS(t, "the live connection", `document.querySelector('[data-test=live-state]')?.dataset.state === 'open'`)
		// The console's session check after its socket closes is a 401.
		b.expect(http.StatusUnauthorized, "/apis/berth.dev/v1/whoami")
		resp := c.api.Do(t, http.MethodPut, "/apis/berth.dev/v1/users/alice/password", c.api.AdminToken,
			map[string]string{"newPassword": "reset-again-by-the-admin"})
		if resp.Code != http.StatusOK {
			t.Fatalf("reset: %d %s", resp.Code, resp.Body)
		}
		start := time.Now()
		b.waitJSFor(t, 15*time.Second, "the sign-in page", `location.hash.startsWith('#/login') && document.querySelector('[data-test=session-expired]')`)
		t.Logf("the console showed sign-in %v after the session ended", time.Since(start).Round(time.Millisecond))
		if strings.Contains(eval[string](t, b, `document.body.innerText`), "Reconnecting") {
			t.Error("the console shows Reconnecting… for an ended session")
		}
		b.shot(t, "session-ended")
	})
}
