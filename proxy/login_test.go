package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSignInFlow(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)

	// The first navigation goes straight to the provider with state, nonce
	// and an S256 PKCE challenge.
	first := b.get(e.srv.URL + "/app/page?x=1")
	if first.StatusCode != http.StatusFound {
		t.Fatalf("unauthenticated navigation: got %d, want 302", first.StatusCode)
	}
	loc, err := url.Parse(first.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, e.op.issuer()+"/authorize"; got != want {
		t.Fatalf("redirect to %s, want the authorization endpoint %s", got, want)
	}
	q := loc.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("authorization request %s = %q, want at least 256 bits", k, q.Get(k))
		}
	}
	if got := q.Get("code_challenge_method"); got != "S256" {
		t.Errorf("code_challenge_method = %q, want S256", got)
	}
	if got, want := q.Get("redirect_uri"), e.srv.URL+callbackPath; got != want {
		t.Errorf("redirect_uri = %q, want %q", got, want)
	}
	if got := q.Get("scope"); got != "openid profile email" {
		t.Errorf("scope = %q, want the default %q", got, "openid profile email")
	}
	flowCookie := findSetCookie(first.Response, e.proxy.flowCookieName(q.Get("state")))
	if flowCookie == nil || !flowCookie.HttpOnly || flowCookie.SameSite != http.SameSiteLaxMode || flowCookie.MaxAge != 600 {
		t.Fatalf("flow cookie: got %+v, want HttpOnly, SameSite=Lax, Max-Age=600", flowCookie)
	}

	// The provider signs the user in and sends the browser to the callback.
	back := b.get(first.Header.Get("Location"))
	cb := b.get(back.Header.Get("Location"))
	if cb.StatusCode != http.StatusFound || cb.Header.Get("Location") != "/app/page?x=1" {
		t.Fatalf("callback: got %d to %q, want 302 to /app/page?x=1: %s", cb.StatusCode, cb.Header.Get("Location"), cb.body)
	}
	sc := findSetCookie(cb.Response, "_gatehouse")
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.MaxAge < 3500 {
		t.Fatalf("session cookie: got %+v, want HttpOnly, SameSite=Lax, Path=/, Max-Age about an hour", sc)
	}
	if c := findSetCookie(cb.Response, flowCookie.Name); c == nil || c.MaxAge >= 0 {
		t.Errorf("the callback should delete the spent flow cookie; got %+v", c)
	}
	if got := cb.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("callback Cache-Control = %q, want no-store", got)
	}

	// Back at the page, the upstream sees who it is.
	b.setCookie(e.srv.URL, &http.Cookie{Name: "theme", Value: "dark"})
	page := b.get(e.srv.URL + "/app/page?x=1")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("page after sign-in: got %d, want 200: %s", page.StatusCode, page.body)
	}
	up := e.up.last(t)
	for h, want := range map[string]string{
		headerUser:              "user-42",
		headerEmail:             "ada@example.com",
		headerPreferredUsername: "ada",
		headerGroups:            "eng,ops",
		"X-Forwarded-Proto":     "http",
		"X-Forwarded-Host":      strings.TrimPrefix(e.srv.URL, "http://"),
		"X-Forwarded-For":       "127.0.0.1",
		"Cookie":                "theme=dark",
	} {
		if got := up.Header.Values(h); len(got) != 1 || got[0] != want {
			t.Errorf("upstream %s: got %q, want [%q]", h, got, want)
		}
	}
	if got := up.URL.RequestURI(); got != "/app/page?x=1" {
		t.Errorf("upstream request URI: got %q, want /app/page?x=1", got)
	}
	if n := e.op.tokenCalls.Load(); n != 1 {
		t.Errorf("token endpoint calls: got %d, want 1", n)
	}
}

func TestAuthenticatedRequestsNeedNoProvider(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.signIn(b, "/")
	discoveries := e.op.discoveries.Load()
	e.op.srv.Close()
	for range 3 {
		if r := b.get(e.srv.URL + "/more"); r.StatusCode != http.StatusOK {
			t.Fatalf("authenticated request with the provider down: got %d, want 200: %s", r.StatusCode, r.body)
		}
	}
	if got := e.op.discoveries.Load(); got != discoveries {
		t.Errorf("discovery requests during authenticated requests: got %d, want none", got-discoveries)
	}
}

func TestDiscoveryIsLazyAndRetried(t *testing.T) {
	e := newEnv(t)
	e.op.down.Store(true)
	if got := e.op.discoveries.Load(); got != 0 {
		t.Fatalf("New contacted the provider %d times, want 0", got)
	}
	b := newBrowser(t)
	r := b.get(e.srv.URL + "/")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "could not be reached") {
		t.Fatalf("sign-in with the provider down: got %d, want 503 page: %s", r.StatusCode, r.body)
	}
	// Within the retry interval the failure is remembered.
	b.get(e.srv.URL + "/")
	if got := e.op.discoveries.Load(); got != 1 {
		t.Fatalf("discovery attempts within %s: got %d, want 1", discoveryRetryAfter, got)
	}
	e.op.down.Store(false)
	e.clock.Advance(discoveryRetryAfter)
	e.signIn(b, "/")
	if got := e.up.last(t).Header.Get(headerUser); got != "user-42" {
		t.Fatalf("after the provider came up: upstream user %q, want user-42", got)
	}
}

func TestNoSessionAnswers(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	tests := []struct {
		name, method, accept string
		more                 http.Header
		want                 int
	}{
		{"browser GET", http.MethodGet, acceptHTML, nil, http.StatusFound},
		{"browser HEAD", http.MethodHead, acceptHTML, nil, http.StatusFound},
		{"navigation", http.MethodGet, acceptHTML, http.Header{"Sec-Fetch-Mode": {"navigate"}}, http.StatusFound},
		{"API GET", http.MethodGet, "application/json", nil, http.StatusUnauthorized},
		{"no Accept", http.MethodGet, "", nil, http.StatusUnauthorized},
		{"any type", http.MethodGet, "*/*", nil, http.StatusUnauthorized},
		{"form POST", http.MethodPost, acceptHTML, nil, http.StatusUnauthorized},
		// Scripts fetching HTML cannot follow a redirect to the provider.
		{"fetch of HTML", http.MethodGet, "text/html", http.Header{"Sec-Fetch-Mode": {"cors"}}, http.StatusUnauthorized},
		{"same-origin fetch of HTML", http.MethodGet, acceptHTML, http.Header{"Sec-Fetch-Mode": {"same-origin"}}, http.StatusUnauthorized},
		{"XMLHttpRequest", http.MethodGet, acceptHTML, http.Header{"X-Requested-With": {"XMLHttpRequest"}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Accept": {tt.accept}}
			for k, v := range tt.more {
				h[k] = v
			}
			r := b.do(tt.method, e.srv.URL+"/data", h)
			if r.StatusCode != tt.want {
				t.Fatalf("got %d, want %d: %s", r.StatusCode, tt.want, r.body)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want Bearer", got)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["error"] != "unauthorized" {
				t.Errorf("body %q: want JSON with error unauthorized (%v)", r.body, err)
			}
		})
	}
	if n := e.up.count(); n != 0 {
		t.Fatalf("requests without a session reached the upstream %d times", n)
	}
}

func TestCallbackErrors(t *testing.T) {
	tests := []struct {
		name string
		// setup runs before the browser is sent to the provider.
		setup func(e *env)
		// tamper changes the callback URL or the browser before the callback.
		tamper     func(e *env, b *browser, callback *url.URL)
		wantStatus int
		wantText   string
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
			wantText:   "had a problem (server_error)",
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
			if err != nil || !strings.HasPrefix(cb.String(), e.srv.URL+callbackPath) {
				t.Fatalf("provider sent the browser to %q, want the callback", back.Header.Get("Location"))
			}
			if tt.tamper != nil {
				tt.tamper(e, b, cb)
			}
			r := b.get(cb.String())
			if r.StatusCode != tt.wantStatus || !strings.Contains(r.body, tt.wantText) {
				t.Fatalf("callback: got %d, want %d with %q:\n%s", r.StatusCode, tt.wantStatus, tt.wantText, r.body)
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

func TestConcurrentSignInsInTwoTabs(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	tab1 := b.get(e.srv.URL + "/one")
	tab2 := b.get(e.srv.URL + "/two")
	back1 := b.get(tab1.Header.Get("Location"))
	back2 := b.get(tab2.Header.Get("Location"))
	for _, tt := range []struct {
		back *response
		want string
	}{{back2, "/two"}, {back1, "/one"}} {
		r := b.get(tt.back.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != tt.want {
			t.Fatalf("callback: got %d to %q, want 302 to %s: %s", r.StatusCode, r.Header.Get("Location"), tt.want, r.body)
		}
	}
}

func TestFlowCookiesAreBounded(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	for i := range 3 * maxFlows {
		b.get(e.srv.URL + "/tab")
		e.clock.Advance(time.Second * time.Duration(i+1))
	}
	var flows int
	for _, n := range b.cookieNames(e.srv.URL) {
		if strings.HasPrefix(n, "_gatehouse"+flowInfix) {
			flows++
		}
	}
	if flows != maxFlows {
		t.Fatalf("flow cookies after %d sign-in starts: got %d, want %d", 3*maxFlows, flows, maxFlows)
	}
	// The newest flow still completes.
	if r := e.signIn(b, "/tab"); !strings.Contains(r.body, "user-42") {
		t.Fatalf("newest flow did not complete: %s", r.body)
	}
}

func TestReturnTargets(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ rd, want string }{
		{"/reports?q=1", "/reports?q=1"},
		{"", "/"},
		{"//evil.example/x", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"/%2F%2Fevil.example", "/"},
	} {
		t.Run(tt.rd, func(t *testing.T) {
			b := newBrowser(t)
			start := b.get(e.srv.URL + startPath + "?rd=" + url.QueryEscape(tt.rd))
			back := b.get(start.Header.Get("Location"))
			cb := b.get(back.Header.Get("Location"))
			if got := cb.Header.Get("Location"); cb.StatusCode != http.StatusFound || got != tt.want {
				t.Fatalf("after sign-in with rd=%q: got %d to %q, want 302 to %q", tt.rd, cb.StatusCode, got, tt.want)
			}
			out := b.do(http.MethodPost, e.srv.URL+signOutPath+"?rd="+url.QueryEscape(tt.rd), nil)
			if got := out.Header.Get("Location"); out.StatusCode != http.StatusFound || got != tt.want {
				t.Fatalf("sign-out with rd=%q: got %d to %q, want 302 to %q", tt.rd, out.StatusCode, got, tt.want)
			}
		})
	}
}

func TestUnsafeRequestPathIsNotAReturnTarget(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	// The request line itself is hostile: after sign-in the browser must
	// not be sent to //evil.example.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL, nil)
	req.URL.Opaque = "//evil.example/x"
	req.Header.Set("Accept", acceptHTML)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back := b.get(resp.Header.Get("Location"))
	cb := b.get(back.Header.Get("Location"))
	// Go's server reads the request target //evil.example/x as authority
	// evil.example and path /x; only the path is ever a return target.
	if got := cb.Header.Get("Location"); got != "/x" {
		t.Fatalf("return target after a request for //evil.example/x: got %q, want /x", got)
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

func TestGroupsThatCannotBeForwardedAreDropped(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.claims["groups"] = []string{"eng", "x,admin", " admin", "a\tb", "", "ops"} })
	b := newBrowser(t)
	e.signIn(b, "/")
	if got := e.up.last(t).Header.Get(headerGroups); got != "eng,ops" {
		t.Fatalf("upstream groups: got %q, want eng,ops", got)
	}
}

func TestSignOut(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t)
			b := newBrowser(t)
			e.signIn(b, "/")
			r := b.do(method, e.srv.URL+signOutPath+"?rd=%2Fbye", nil)
			if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/bye" {
				t.Fatalf("sign-out: got %d to %q, want 302 to /bye", r.StatusCode, r.Header.Get("Location"))
			}
			if c := findSetCookie(r.Response, "_gatehouse"); c == nil || c.MaxAge >= 0 {
				t.Fatalf("sign-out should delete the session cookie, got %+v", c)
			}
			if got := b.do(http.MethodGet, e.srv.URL+"/", nil); got.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after sign-out: got %d, want 401", got.StatusCode)
			}
		})
	}
	t.Run("PUT", func(t *testing.T) {
		e := newEnv(t)
		r := newBrowser(t).do(http.MethodPut, e.srv.URL+signOutPath, nil)
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("PUT sign-out: got %d Allow %q, want 405 Allow GET, POST", r.StatusCode, r.Header.Get("Allow"))
		}
	})
}

func TestUserinfoEndpoint(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	if r := b.do(http.MethodGet, e.srv.URL+userinfoPath, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo without a session: got %d, want 401", r.StatusCode)
	}
	e.signIn(b, "/")
	r := b.do(http.MethodGet, e.srv.URL+userinfoPath, nil)
	var got struct {
		Sub       string   `json:"sub"`
		Email     string   `json:"email"`
		Groups    []string `json:"groups"`
		ExpiresAt string   `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: got %d %q (%v), want 200 JSON", r.StatusCode, r.body, err)
	}
	if got.Sub != "user-42" || got.Email != "ada@example.com" || !slices.Equal(got.Groups, []string{"eng", "ops"}) || got.ExpiresAt == "" {
		t.Fatalf("userinfo: got %+v", got)
	}
	if strings.Contains(r.body, "token") {
		t.Fatalf("userinfo must not reveal tokens to scripts: %s", r.body)
	}
}

func TestSessionTTLCapsSession(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Cookie.SessionTTL = 10 * time.Minute })
	b := newBrowser(t)
	e.signIn(b, "/")
	e.clock.Advance(10*time.Minute - time.Second)
	if r := b.do(http.MethodGet, e.srv.URL+"/", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("before the TTL: got %d, want 200", r.StatusCode)
	}
	e.clock.Advance(time.Second)
	if r := b.do(http.MethodGet, e.srv.URL+"/", nil); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "session expired") {
		t.Fatalf("at the TTL: got %d %s, want 401 session expired", r.StatusCode, r.body)
	}
}

// findSetCookie returns the response's Set-Cookie called name, or its first
// flow cookie when name is empty.
func findSetCookie(r *http.Response, name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name || name == "" && strings.Contains(c.Name, flowInfix) {
			return c
		}
	}
	return nil
}

func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
