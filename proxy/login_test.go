package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
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
	if got, want := q.Get("redirect_uri"), e.srv.URL+CallbackPath; got != want {
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
			out := b.signOut(e.srv.URL, tt.rd)
			want := tt.want
			if tt.rd == "" {
				want = signedOutPath
			}
			if got := out.Header.Get("Location"); out.StatusCode != http.StatusFound || got != want {
				t.Fatalf("sign-out with rd=%q: got %d to %q, want 302 to %q", tt.rd, out.StatusCode, got, want)
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

func TestSessionTTLCapsSession(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Session.TTL = 10 * time.Minute })
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

// TestReturnToEncodedPaths checks that the page first asked for is returned
// to with its escapes intact: a decoded %3F would turn the rest of the
// path into a query.
func TestReturnToEncodedPaths(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/a%3Fb", "/a%23b", "/caf%C3%A9", "/100%25"} {
		r := newBrowser(t).get(e.srv.URL + path)
		loc, err := url.Parse(r.Header.Get("Location"))
		if r.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("%s: got %d, want a redirect to sign in", path, r.StatusCode)
		}
		var flow *flow
		for _, c := range r.Cookies() {
			if strings.Contains(c.Name, flowInfix) {
				if flow, err = e.proxy.readFlowCookie(c); err != nil {
					t.Fatal(err)
				}
			}
		}
		if flow == nil || flow.returnTo != path {
			t.Fatalf("%s: the sign-in returns to %+v (authorize URL %s), want %s", path, flow, loc, path)
		}
	}
}
