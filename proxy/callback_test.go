package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

func TestCallbackErrors(t *testing.T) {
	tests := []struct {
		name string
		// setup runs before the browser is sent to the provider.
		setup func(e *env)
		// tamper changes the callback URL or the browser before the callback.
		tamper     func(e *env, b *browser, callback *url.URL)
		wantStatus int
		wantText   string
		wantCode   string // the error code shown to administrators
	}{
		{
			name:       "provider error access_denied",
			setup:      func(e *env) { e.op.set(func(tp *testProvider) { tp.authorizeError = "access_denied" }) },
			wantStatus: http.StatusForbidden,
			wantText:   "You declined to sign in",
		},
		{
			name:       "provider error server_error",
			setup:      func(e *env) { e.op.set(func(tp *testProvider) { tp.authorizeError = "server_error" }) },
			wantStatus: http.StatusBadGateway,
			wantText:   "had a problem.",
			wantCode:   "server_error",
		},
		{
			name: "provider error unknown",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.authorizeError = "Call 555-0100 to unlock your account" })
			},
			wantStatus: http.StatusForbidden,
			wantText:   "did not sign you in",
		},
		{
			name: "missing flow cookie",
			tamper: func(e *env, b *browser, _ *url.URL) {
				for _, n := range b.cookieNames(e.srv.URL) {
					b.setCookie(e.srv.URL, &http.Cookie{Name: n, Value: "", MaxAge: -1})
				}
			},
			wantStatus: http.StatusBadRequest,
			wantText:   "does not belong to a sign-in started in this browser",
		},
		{
			name: "tampered flow cookie",
			tamper: func(e *env, b *browser, cb *url.URL) {
				name := e.proxy.flowCookieName(cb.Query().Get("state"))
				c := b.cookie(e.srv.URL, name)
				b.setCookie(e.srv.URL, &http.Cookie{Name: name, Value: flipChar(c.Value, len(c.Value)/2)})
			},
			wantStatus: http.StatusBadRequest,
			wantText:   "cookie of this browser is not valid",
		},
		{
			name: "state mismatch",
			tamper: func(e *env, b *browser, cb *url.URL) {
				// Same cookie name (it uses the state's start), other state.
				q := cb.Query()
				q.Set("state", q.Get("state")[:flowNameChars]+"someone-elses-state-value")
				cb.RawQuery = q.Encode()
			},
			wantStatus: http.StatusBadRequest,
			wantText:   "does not match the sign-in this browser started",
		},
		{
			name: "bad code",
			tamper: func(e *env, b *browser, cb *url.URL) {
				q := cb.Query()
				q.Set("code", "forged")
				cb.RawQuery = q.Encode()
			},
			wantStatus: http.StatusBadRequest,
			wantText:   "did not accept the sign-in code",
		},
		{
			name: "missing code",
			tamper: func(e *env, b *browser, cb *url.URL) {
				q := cb.Query()
				q.Del("code")
				cb.RawQuery = q.Encode()
			},
			wantStatus: http.StatusBadRequest,
			wantText:   "missing its code or state",
		},
		{
			name:       "flow too old",
			tamper:     func(e *env, _ *browser, _ *url.URL) { e.clock.Advance(flowTTL + time.Second) },
			wantStatus: http.StatusBadRequest,
			wantText:   "Sign-in took too long",
		},
		{
			name: "ID token with wrong nonce",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.editIDToken = func(c map[string]any) { c["nonce"] = "replayed" } })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "ID token for a different sign-in",
		},
		{
			name: "ID token for another audience",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.editIDToken = func(c map[string]any) { c["aud"] = "another-client" } })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "failed verification",
		},
		{
			name: "ID token from another issuer",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.editIDToken = func(c map[string]any) { c["iss"] = "https://evil.example" } })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "failed verification",
		},
		{
			name: "expired ID token",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) {
					tp.editIDToken = func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() }
				})
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "failed verification",
		},
		{
			name: "userinfo about someone else",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.editUserinfo = func(c map[string]any) { c["sub"] = "mallory" } })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "profile of someone else",
		},
		{
			name: "username with a trailing space",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.claims["preferred_username"] = "admin " })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "cannot pass on safely",
		},
		{
			name: "name with a newline",
			setup: func(e *env) {
				e.op.set(func(tp *testProvider) { tp.claims["name"] = "Ada\r\nX-Forwarded-User: admin" })
			},
			wantStatus: http.StatusBadGateway,
			wantText:   "cannot pass on safely",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			b := newBrowser(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			toProvider := b.get(e.srv.URL + "/wanted")
			back := b.get(toProvider.Header.Get("Location"))
			cb, err := url.Parse(back.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(cb.String(), e.srv.URL+CallbackPath) {
				t.Fatalf("provider sent the browser to %q, want the callback", back.Header.Get("Location"))
			}
			if tt.tamper != nil {
				tt.tamper(e, b, cb)
			}
			r := b.get(cb.String())
			if r.StatusCode != tt.wantStatus || !strings.Contains(r.body, tt.wantText) {
				t.Fatalf("callback: got %d, want %d with %q:\n%s", r.StatusCode, tt.wantStatus, tt.wantText, r.body)
			}
			if tt.wantCode != "" && !strings.Contains(r.body, `<dd id="error-code"><code>`+tt.wantCode+`</code>`) {
				t.Errorf("the page does not show the error code %s to administrators:\n%s", tt.wantCode, r.body)
			}
			if c := findSetCookie(r.Response, "_gatehouse"); c != nil {
				t.Errorf("a failed callback set a session cookie: %+v", c)
			}
			for _, untrusted := range []string{"the user said no", "555-0100"} {
				if strings.Contains(r.body, untrusted) {
					t.Errorf("the page shows text from the callback URL (%q), which anyone can craft", untrusted)
				}
			}
			if !strings.Contains(r.body, startPath+"?rd=") {
				t.Errorf("the error page should offer to sign in again:\n%s", r.body)
			}
			if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") {
				t.Errorf("error page CSP = %q, want default-src 'none'", got)
			}
			if r := b.do(http.MethodGet, e.srv.URL+"/wanted", http.Header{"Accept": {"application/json"}}); r.StatusCode != http.StatusUnauthorized {
				t.Errorf("after a failed sign-in: got %d, want 401", r.StatusCode)
			}
		})
	}
}

func TestDeclinedSignInOffersRetryToTheSamePage(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.authorizeError = "access_denied" })
	b := newBrowser(t)
	r := b.follow(e.srv.URL + "/reports?q=1")
	want := `href="/oauth2/start?rd=%2Freports%3Fq%3D1"`
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, want) {
		t.Fatalf("got %d, want 403 with link %s:\n%s", r.StatusCode, want, r.body)
	}
	e.op.set(func(tp *testProvider) { tp.authorizeError = "" })
	r = b.follow(e.srv.URL + "/oauth2/start?rd=%2Freports%3Fq%3D1")
	if r.StatusCode != http.StatusOK || e.up.last(t).URL.RequestURI() != "/reports?q=1" {
		t.Fatalf("retry: got %d at %s, want 200 at /reports?q=1", r.StatusCode, e.up.last(t).URL.RequestURI())
	}
}

func TestCallbackIsSingleUse(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	toProvider := b.get(e.srv.URL + "/")
	back := b.get(toProvider.Header.Get("Location"))
	cbURL := back.Header.Get("Location")
	flowName := findSetCookie(toProvider.Response, "").Name
	flowValue := b.cookie(e.srv.URL, flowName).Value
	if r := b.get(cbURL); r.StatusCode != http.StatusFound {
		t.Fatalf("first callback: got %d, want 302", r.StatusCode)
	}
	// Replaying the callback with the flow cookie put back: the code is spent.
	other := newBrowser(t)
	other.setCookie(e.srv.URL, &http.Cookie{Name: flowName, Value: flowValue})
	if r := other.get(cbURL); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed callback: got %d, want 400: %s", r.StatusCode, r.body)
	}
}

func TestUserinfoFillsMissingClaims(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) {
		tp.idTokenOnlySub = true
		tp.claims["groups"] = "single-group"
	})
	b := newBrowser(t)
	e.signIn(b, "/")
	up := e.up.last(t)
	for h, want := range map[string]string{
		headerUser: "user-42", headerEmail: "ada@example.com", headerPreferredUsername: "ada", headerGroups: "single-group",
	} {
		if got := up.Header.Get(h); got != want {
			t.Errorf("upstream %s: got %q, want %q", h, got, want)
		}
	}
}

// TestUnverifiedEmailIsNotForwarded checks that an address the provider
// says it has not verified never reaches the upstream as X-Forwarded-Email,
// where it could be taken for the identity of whoever owns that address.
func TestUnverifiedEmailIsNotForwarded(t *testing.T) {
	tests := []struct {
		name     string
		verified any // nil: claim absent
		fromUI   bool
		want     string
	}{
		{"verified", true, false, "ada@example.com"},
		{"verified as a string", "true", false, "ada@example.com"},
		{"not said", nil, false, "ada@example.com"},
		{"unverified", false, false, ""},
		{"unverified as a string", "false", false, ""},
		{"verified at userinfo", true, true, "ada@example.com"},
		{"unverified at userinfo", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.op.set(func(tp *testProvider) {
				tp.idTokenOnlySub = tt.fromUI
				delete(tp.claims, "email_verified")
				if tt.verified != nil {
					tp.claims["email_verified"] = tt.verified
				}
			})
			e.signIn(newBrowser(t), "/")
			if got := e.up.last(t).Header.Get(headerEmail); got != tt.want {
				t.Fatalf("upstream %s: got %q, want %q", headerEmail, got, tt.want)
			}
		})
	}
}

// TestEmailRulesTrustOnlyVerifiedAddresses checks that an allow rule on an
// email domain admits only an address the provider says it verified, unless
// the operator says the provider's addresses can be trusted without.
func TestEmailRulesTrustOnlyVerifiedAddresses(t *testing.T) {
	tests := []struct {
		name     string
		verified any // nil: claim absent
		assume   bool
		want     int
	}{
		{"verified", true, false, http.StatusOK},
		{"not said", nil, false, http.StatusForbidden},
		{"not said, assumed", nil, true, http.StatusOK},
		{"unverified, assumed", false, true, http.StatusForbidden}, // the address is dropped
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.Routes[0].Allow = &policy.Rules{EmailDomains: []string{"example.com"}}
				c.Provider.InsecureAssumeEmailVerified = tt.assume
			})
			e.op.set(func(tp *testProvider) {
				delete(tp.claims, "email_verified")
				if tt.verified != nil {
					tp.claims["email_verified"] = tt.verified
				}
			})
			if r := newBrowser(t).follow(e.srv.URL + "/"); r.StatusCode != tt.want {
				t.Fatalf("got %d, want %d:\n%s", r.StatusCode, tt.want, r.body)
			}
		})
	}
}

// TestClaimsForPoliciesAndHeaders checks that the claims a policy or header
// names are read at sign-in, numbers and booleans as written, and decide.
func TestClaimsForPoliciesAndHeaders(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes[0].Allow = &policy.Rules{Claims: map[string][]string{"employee_id": {"12345678"}}}
		c.Routes[0].Identity = Identity{Headers: map[string]string{"X-Employee": "employee_id", "X-Roles": "roles", "X-Admin": "is_admin"}}
	})
	e.op.set(func(tp *testProvider) {
		tp.claims["employee_id"] = 12345678
		tp.claims["roles"] = []any{"viewer", 7, true, map[string]any{"nested": 1}, "a,b"}
		tp.claims["is_admin"] = false
	})
	e.signIn(newBrowser(t), "/")
	h := e.up.last(t).Header
	if h.Get("X-Employee") != "12345678" || h.Get("X-Roles") != "viewer,7,true" || h.Get("X-Admin") != "false" {
		t.Fatalf("claims upstream: X-Employee %q, X-Roles %q, X-Admin %q", h.Get("X-Employee"), h.Get("X-Roles"), h.Get("X-Admin"))
	}
	e.op.set(func(tp *testProvider) { tp.claims["employee_id"] = 87654321 })
	if r := newBrowser(t).follow(e.srv.URL + "/"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("another employee id: got %d, want 403", r.StatusCode)
	}
}

func TestGroupsThatCannotBeForwardedAreDropped(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.claims["groups"] = []string{"eng", "x,admin", " admin", "a\tb", "", "ops"} })
	b := newBrowser(t)
	e.signIn(b, "/")
	if got := e.up.last(t).Header.Get(headerGroups); got != "eng,ops" {
		t.Fatalf("upstream groups: got %q, want eng,ops", got)
	}
}
