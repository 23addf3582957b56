package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// loginForm starts an authorization request and returns the login form.
func loginForm(t *testing.T, b *browser) url.Values {
	t.Helper()
	_, challenge := pkce("login")
	r := b.authorize(authParams(challenge))
	loc := r.location(t)
	if loc.Path != PathLogin {
		t.Fatalf("redirected to %s, want the login page", loc)
	}
	return hiddenFields(t, b.get(loc.String()))
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t)
	const generic = "The user ID or password is incorrect. Check them and try again."
	for _, tt := range []struct{ name, user, password string }{
		{"wrong password", "alice", "wrong"},
		{"unknown user", "mallory", alicePassword},
		{"empty password", "alice", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			form := loginForm(t, b)
			form.Set("user_id", tt.user)
			form.Set("password", tt.password)
			r := b.post(PathLogin, form)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, generic) {
				t.Errorf("got status %d, want 401 with the generic message; body: %s", r.status, r.body)
			}
			if c := b.client.Jar.Cookies(mustURL(t, h.ts.URL)); hasCookie(c, SessionCookie) {
				t.Error("a failed login set a session cookie")
			}
			// The form is shown again, ready for another try.
			if again := hiddenFields(t, r); again.Get("req") != form.Get("req") {
				t.Error("the login form shown again lost the pending request")
			}
		})
	}
}

func TestLoginCSRF(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		change func(b *browser, form url.Values)
	}{
		{"missing token", func(_ *browser, form url.Values) { form.Del("csrf_token") }},
		{"wrong token", func(_ *browser, form url.Values) { form.Set("csrf_token", newSecret()) }},
		{"token without its cookie", func(b *browser, _ url.Values) { b.client.Jar = mustJar(t) }},
		{"token from another browser", func(_ *browser, form url.Values) {
			form.Set("csrf_token", loginForm(t, h.browser()).Get("csrf_token"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			form := loginForm(t, b)
			form.Set("user_id", "alice")
			form.Set("password", alicePassword)
			tt.change(b, form)
			r := b.post(PathLogin, form)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "The form has expired") {
				t.Errorf("got status %d, want 403 with an explanation; body: %s", r.status, r.body)
			}
			if hasCookie(b.client.Jar.Cookies(mustURL(t, h.ts.URL)), SessionCookie) {
				t.Error("a refused login set a session cookie")
			}
		})
	}
}

func TestPendingRequestMustBeIntact(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		req  func(good string) string
		want string
	}{
		{"missing", func(string) string { return "" }, "cannot be opened on its own"},
		{"altered", func(good string) string { return good[:len(good)-4] + "AAAA" }, "has been changed, or has expired"},
		{"expired", func(good string) string { h.clk.Advance(pendingRequestTTL); return good }, "has been changed, or has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			form := loginForm(t, b)
			form.Set("req", tt.req(form.Get("req")))
			form.Set("user_id", "alice")
			form.Set("password", alicePassword)
			for _, r := range []*response{b.get(PathLogin + "?req=" + url.QueryEscape(form.Get("req"))), b.post(PathLogin, form)} {
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.want) {
					t.Errorf("got status %d, want 400 saying %q; body: %s", r.status, tt.want, r.body)
				}
			}
		})
	}
}

func TestCookies(t *testing.T) {
	tests := []struct {
		issuer     string
		wantSecure bool
		wantPath   string
	}{
		{"", false, "/"},
		{"https://login.example/tenant/", true, "/tenant/"},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				if tt.issuer != "" {
					c.Issuer = tt.issuer
				}
			})
			// Call the handler directly: the issuer need not be reachable.
			base := strings.TrimSuffix(mustURL(t, h.srv.cfg.Issuer).Path, "/")
			_, challenge := pkce("cookie")
			rec := serve(h.srv, http.MethodGet, base+PathAuthorize+"?"+authParams(challenge).Encode(), nil)
			loc := rec.Header().Get("Location")
			rec = serve(h.srv, http.MethodGet, loc, nil)
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 || cookies[0].Name != CSRFCookie {
				t.Fatalf("login page set cookies %v, want only %s", cookies, CSRFCookie)
			}
			form := hiddenFields(t, &response{status: rec.Code, body: rec.Body.String()})
			form.Set("user_id", "alice")
			form.Set("password", alicePassword)
			rec = serve(h.srv, http.MethodPost, base+PathLogin, form, cookies[0])
			var session *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == SessionCookie {
					session = c
				}
			}
			if session == nil {
				t.Fatalf("login set no %s cookie; status %d", SessionCookie, rec.Code)
			}
			for _, c := range []*http.Cookie{cookies[0], session} {
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.wantSecure || c.Path != tt.wantPath {
					t.Errorf("cookie %s: HttpOnly %v SameSite %v Secure %v Path %q; want true Lax %v %q",
						c.Name, c.HttpOnly, c.SameSite, c.Secure, c.Path, tt.wantSecure, tt.wantPath)
				}
				if c.Name == "_gatehouse" {
					t.Error("cookie name collides with the proxy's")
				}
			}
			if session.MaxAge != int(h.srv.cfg.LoginSessionTTL/time.Second) {
				t.Errorf("session Max-Age %d, want the login session TTL", session.MaxAge)
			}
		})
	}
}

func TestPagesAreLockedDown(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("headers")
	r := b.authorize(authParams(challenge))
	login := b.get(r.location(t).String())
	consent := b.get(b.submitLogin(r, "alice", alicePassword).location(t).String())
	errPage := b.authorize(url.Values{"client_id": {"nobody"}})
	for name, p := range map[string]*response{"login": login, "consent": consent, "error": errPage} {
		for header, want := range map[string]string{
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := p.header.Get(header); got != want {
				t.Errorf("%s page: %s = %q, want %q", name, header, got, want)
			}
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "style-src 'sha256-") || strings.Contains(csp, "script-src") {
			t.Errorf("%s page: CSP %q, want no framing, no scripts and a stylesheet allowed by hash", name, csp)
		}
		if !strings.Contains(p.body, `<html lang="en">`) || strings.Contains(p.body, "<script") {
			t.Errorf("%s page is not a script-free English document", name)
		}
	}
}

func TestConsentPageSaysWhoAndWhat(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("words")
	r := b.submitLogin(b.authorize(authParams(challenge)), "alice", alicePassword)
	page := b.get(r.location(t).String())
	for _, want := range []string{
		"Web App", "Alice Example (alice)", "See your name and user ID", "See your email address",
		"See which groups you belong to", "Confirm who you are", ">Approve<", ">Deny<", "https://app.example",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("consent page does not contain %q", want)
		}
	}
}

func TestConsentDecisions(t *testing.T) {
	h := newHarness(t)
	_, challenge := pkce("decide")

	t.Run("deny", func(t *testing.T) {
		b := h.browser()
		q := callback(t, b.decide(b.submitLogin(b.authorize(authParams(challenge)), "alice", alicePassword), "deny"), webRedirect)
		if q.Get("error") != codeAccessDenied || q.Get("state") != "state-123" || q.Has("code") {
			t.Errorf("callback = %v, want access_denied with the state and no code", q)
		}
		// Denial is not remembered as consent.
		if loc := b.authorize(authParams(challenge)).location(t); loc.Path != PathConsent {
			t.Errorf("after a denial, redirected to %s, want the consent page again", loc)
		}
	})

	tests := []struct {
		name   string
		change func(b *browser, form url.Values)
		status int
		want   string
	}{
		{"missing CSRF token", func(_ *browser, f url.Values) { f.Del("csrf_token") }, http.StatusForbidden, "The form has expired"},
		{"wrong CSRF token", func(_ *browser, f url.Values) { f.Set("csrf_token", newSecret()) }, http.StatusForbidden, "The form has expired"},
		{"CSRF token of another session", func(_ *browser, f url.Values) {
			other := h.browser()
			r := other.submitLogin(other.authorize(authParams(challenge)), "alice", alicePassword)
			f.Set("csrf_token", hiddenFields(t, other.get(r.location(t).String())).Get("csrf_token"))
		}, http.StatusForbidden, "The form has expired"},
		{"no decision", func(_ *browser, f url.Values) { f.Del("decision") }, http.StatusBadRequest, "No decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			r := b.submitLogin(b.authorize(authParams(challenge)), "alice", alicePassword)
			form := hiddenFields(t, b.get(r.location(t).String()))
			form.Set("decision", "approve")
			tt.change(b, form)
			got := b.post(PathConsent, form)
			if got.status != tt.status || !strings.Contains(got.body, tt.want) || got.header.Get("Location") != "" {
				t.Errorf("got status %d Location %q, want %d saying %q; body: %s", got.status, got.header.Get("Location"), tt.status, tt.want, got.body)
			}
			if _, err := h.store.GetConsent(t.Context(), "alice", "web", h.clk.Now()); err == nil {
				t.Error("a refused decision stored a consent")
			}
		})
	}

	t.Run("without a session", func(t *testing.T) {
		b := h.browser()
		r := b.submitLogin(b.authorize(authParams(challenge)), "alice", alicePassword)
		form := hiddenFields(t, b.get(r.location(t).String()))
		form.Set("decision", "approve")
		b.client.Jar = mustJar(t)
		if loc := b.post(PathConsent, form).location(t); loc.Path != PathLogin {
			t.Errorf("redirected to %s, want the login page", loc)
		}
	})
}
