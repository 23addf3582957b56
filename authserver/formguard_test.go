package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// postWithHeaders posts form like b.post, with extra request headers.
func (b *browser) postWithHeaders(ref string, form url.Values, header map[string]string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.h.abs(ref), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(b.t, b.client, req)
}

// issuedCodes counts and removes the authorization codes in the store, by
// collecting what has expired a code lifetime from now. Form claims live
// as long as the pending request, much longer, and stay.
func (h *harness) issuedCodes() int64 {
	h.t.Helper()
	res, err := h.store.GarbageCollect(h.t.Context(), h.clk.Now().Add(h.srv.cfg.AuthCodeTTL))
	if err != nil {
		h.t.Fatal(err)
	}
	return res.AuthCodes
}

func TestFormOrigin(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		header map[string]string
		ok     bool
	}{
		{"no headers: the CSRF token decides", nil, true},
		{"same-origin", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, true},
		{"typed by the person", map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"issuer's origin", map[string]string{"Origin": h.ts.URL}, true},
		{"null origin of a no-referrer page", map[string]string{"Origin": "null"}, true},
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, false},
		{"same-site is not same-origin", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"fetch metadata wins over a matching origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": h.ts.URL}, false},
		{"another origin", map[string]string{"Origin": "https://evil.example"}, false},
		{"another port", map[string]string{"Origin": h.ts.URL + "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.clk.Advance(time.Second) // tells this subtest's consent from earlier ones
			b := h.browser().withT(t)
			_, challenge := pkce("origin")
			params := authParams(challenge)
			params.Set("prompt", "consent")
			form := hiddenFields(t, b.get(b.authorize(params).location(t).String()))
			form.Set("user_id", "alice")
			form.Set("password", alicePassword)
			login := b.postWithHeaders(PathLogin, form, tt.header)
			gotSession := hasCookie(b.client.Jar.Cookies(mustURL(t, h.ts.URL)), SessionCookie)
			if !tt.ok {
				if login.status != http.StatusForbidden || !strings.Contains(login.body, "The form was sent from another site") || gotSession {
					t.Fatalf("login: got status %d, session %v; want 403 explaining, and no session; body: %s", login.status, gotSession, login.body)
				}
				// Sign in normally to try the consent form.
				login = b.submitLogin(b.authorize(params), "alice", alicePassword)
			} else if login.status != http.StatusSeeOther || !gotSession {
				t.Fatalf("login: got status %d, session %v; want a redirect and a session; body: %s", login.status, gotSession, login.body)
			}
			consent := hiddenFields(t, b.get(login.location(t).String()))
			consent.Set("decision", "approve")
			h.issuedCodes() // clears earlier subtests' codes
			r := b.postWithHeaders(PathConsent, consent, tt.header)
			switch {
			case tt.ok:
				callback(t, r, webRedirect)
			case r.status != http.StatusForbidden || !strings.Contains(r.body, "can only be submitted from this sign-in service"):
				t.Errorf("consent: got status %d, want 403 explaining; body: %s", r.status, r.body)
			case h.issuedCodes() != 0:
				t.Error("a refused consent issued a code")
			default:
				if c, err := h.store.GetConsent(t.Context(), "alice", "web", h.clk.Now()); err == nil && !c.GrantedAt.Before(h.clk.Now()) {
					t.Error("a refused consent was stored")
				}
			}
		})
	}
}

func TestFormsAreSingleUse(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce("once")

	t.Run("login", func(t *testing.T) {
		b := h.browser().withT(t)
		form := loginForm(t, b)
		form.Set("user_id", "alice")
		form.Set("password", alicePassword)
		if r := b.post(PathLogin, form); r.status != http.StatusSeeOther {
			t.Fatalf("first login: status %d; body: %s", r.status, r.body)
		}
		// Another browser replays the captured form with its own cookie.
		other := h.browser().withT(t)
		otherForm := loginForm(t, other)
		form.Set("csrf_token", otherForm.Get("csrf_token"))
		r := other.post(PathLogin, form)
		if r.status != http.StatusConflict || !strings.Contains(r.body, "This form was already used") || !strings.Contains(r.body, "sign in from there again") {
			t.Errorf("replayed login: got status %d, want 409 explaining; body: %s", r.status, r.body)
		}
		if hasCookie(other.client.Jar.Cookies(mustURL(t, h.ts.URL)), SessionCookie) {
			t.Error("a replayed login set a session")
		}
		// The other browser's own form still works.
		otherForm.Set("user_id", "alice")
		otherForm.Set("password", alicePassword)
		if r := other.post(PathLogin, otherForm); r.status != http.StatusSeeOther {
			t.Errorf("a fresh form after a replay: status %d; body: %s", r.status, r.body)
		}
	})

	t.Run("failed login leaves the form usable", func(t *testing.T) {
		b := h.browser().withT(t)
		form := loginForm(t, b)
		form.Set("user_id", "alice")
		form.Set("password", "wrong")
		if r := b.post(PathLogin, form); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: status %d", r.status)
		}
		form.Set("password", alicePassword)
		if r := b.post(PathLogin, form); r.status != http.StatusSeeOther {
			t.Errorf("retry with the right password: status %d; body: %s", r.status, r.body)
		}
	})

	for _, tc := range []struct{ first, user, password string }{{"approve", "bob", "bob password"}, {"deny", "id001", "mypassword"}} {
		first := tc.first
		t.Run("consent after "+first, func(t *testing.T) {
			b := h.browser().withT(t)
			params := authParams(challenge)
			params.Set("prompt", "consent")
			r := b.submitLogin(b.authorize(params), tc.user, tc.password)
			form := hiddenFields(t, b.get(r.location(t).String()))
			form.Set("decision", first)
			callback(t, b.post(PathConsent, form), webRedirect)
			h.issuedCodes()
			form.Set("decision", "approve")
			r = b.post(PathConsent, form)
			if r.status != http.StatusConflict || r.header.Get("Location") != "" || !strings.Contains(r.body, "This form was already used") {
				t.Errorf("replayed approval: got status %d Location %q, want 409 and no redirect; body: %s", r.status, r.header.Get("Location"), r.body)
			}
			if n := h.issuedCodes(); n != 0 {
				t.Errorf("the replay issued %d codes", n)
			}
			if _, err := h.store.GetConsent(t.Context(), tc.user, "web", h.clk.Now()); first == "deny" && err == nil {
				t.Error("a replayed approval after a denial stored a consent")
			}
		})
	}

	t.Run("malformed decision does not use the form up", func(t *testing.T) {
		b := h.browser().withT(t)
		params := authParams(challenge)
		params.Set("prompt", "consent")
		r := b.submitLogin(b.authorize(params), "alice", alicePassword)
		form := hiddenFields(t, b.get(r.location(t).String()))
		form.Set("decision", "maybe")
		if r := b.post(PathConsent, form); r.status != http.StatusBadRequest {
			t.Fatalf("no decision: status %d", r.status)
		}
		form.Set("decision", "approve")
		callback(t, b.post(PathConsent, form), webRedirect)
	})
}
