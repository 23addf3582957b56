package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// forwardAuthEnv is a proxy without upstreams, as an edge proxy at
// 192.0.2.1 (httptest's RemoteAddr) would ask it.
func forwardAuthEnv(t *testing.T) *env {
	return newEnv(t, func(c *Config) {
		c.TrustedProxies = []string{"192.0.2.1"}
		c.AllowedRedirectDomains = []string{".example.com"}
		c.Cookie.Domain = "example.com"
		c.Routes = []Route{
			{Path: "/"},
			{Path: "/admin", Allow: &policy.Rules{Groups: []string{"admins"}}},
			{Path: "/public", Public: true},
			{Path: "/api", SkipAuth: []SkipRule{{Methods: []string{"GET"}, Path: "/api/health"}}},
			{Host: "grafana.example.com", Path: "/", Identity: Identity{Preset: "grafana"}},
		}
	})
}

func TestForwardAuth(t *testing.T) {
	e := forwardAuthEnv(t)
	cookie := cookieHeader(e.mint(e.testSession()))
	traefik := func(method, host, uri string) http.Header {
		return http.Header{"X-Forwarded-Method": {method}, "X-Forwarded-Host": {host}, "X-Forwarded-Uri": {uri}, "X-Forwarded-Proto": {"https"}}
	}
	nginx := func(method, u string) http.Header {
		return http.Header{"X-Original-Method": {method}, "X-Original-Url": {u}}
	}
	tests := []struct {
		name       string
		remote     string // default: the trusted edge
		query      string
		h          http.Header
		signedIn   bool
		navigation bool
		want       int
		headers    map[string]string // identity headers expected on a 200
	}{
		{name: "allowed (Traefik, Caddy)", h: traefik("GET", "app.example.com", "/x?y=1"), signedIn: true, want: 200,
			headers: map[string]string{headerUser: "user-42", headerEmail: "ada@example.com", headerGroups: "eng,ops"}},
		{name: "allowed (nginx)", h: nginx("GET", "https://app.example.com/x?y=1"), signedIn: true, want: 200,
			headers: map[string]string{headerUser: "user-42"}},
		{name: "nginx path only", h: nginx("GET", "/x"), signedIn: true, want: 200},
		{name: "per-host headers", h: traefik("GET", "grafana.example.com", "/d/abc"), signedIn: true, want: 200,
			headers: map[string]string{"X-Webauth-User": "ada", headerUser: ""}},
		{name: "no session", h: traefik("GET", "app.example.com", "/x"), want: 401},
		{name: "refused by policy", h: traefik("GET", "app.example.com", "/admin/users"), signedIn: true, want: 403},
		{name: "refused, upper case", h: nginx("GET", "https://app.example.com/ADMIN"), signedIn: true, want: 403},
		{name: "refused, dot segments", h: traefik("GET", "app.example.com", "/public/../admin"), signedIn: true, want: 403},
		{name: "public without session", h: traefik("GET", "app.example.com", "/public/logo.png"), want: 200, headers: map[string]string{headerUser: ""}},
		{name: "public gets no identity", h: traefik("GET", "app.example.com", "/public/x"), signedIn: true, want: 200, headers: map[string]string{headerUser: ""}},
		{name: "skip_auth", h: traefik("GET", "app.example.com", "/api/health"), want: 200},
		{name: "skip_auth, other method", h: traefik("POST", "app.example.com", "/api/health"), want: 401},
		// Authelia CVE-2021-32637: a malformed original URL must never be
		// taken as allowed.
		{name: "skip_auth, method missing", h: http.Header{"X-Forwarded-Uri": {"/api/health"}, "X-Forwarded-Host": {"app.example.com"}}, want: 401},
		{name: "ambiguous path", h: traefik("GET", "app.example.com", "/public/..%2Fadmin"), signedIn: true, want: 400},
		{name: "null byte", h: nginx("GET", "https://app.example.com/public%00/../admin"), want: 400},
		{name: "not a path", h: traefik("GET", "app.example.com", "admin"), want: 400},
		{name: "not an http URL", h: nginx("GET", "javascript:alert(1)"), want: 400},
		// An origin-form path may start with "//"; it is a path here.
		{name: "path starting with //", h: nginx("GET", "//evil.example/x"), signedIn: true, want: 200},
		{name: "bad host", h: traefik("GET", "app.example.com@evil", "/"), want: 400},
		{name: "bad method", h: traefik("GE T", "app.example.com", "/"), want: 400},
		{name: "nothing named", h: http.Header{}, signedIn: true, want: 400},
		{name: "absolute URL without a host", h: func() http.Header {
			h := nginx("GET", "http:///admin")
			h["X-Forwarded-Host"] = []string{"elsewhere.example.com"}
			return h
		}(), want: 400},
		// The edge must route the proxy's own paths to it: were they
		// allowed here, the app would get them unchecked.
		{name: "the proxy's own path", h: traefik("GET", "app.example.com", "/oauth2/start"), want: 400},
		{name: "the proxy's own prefix", h: traefik("GET", "app.example.com", "//oauth2"), want: 400},
		// A client behind Traefik adds X-Original-URL to choose the path.
		{name: "both families", h: func() http.Header {
			h := traefik("GET", "app.example.com", "/admin")
			h["X-Original-Url"] = []string{"https://app.example.com/public/"}
			return h
		}(), want: 400},
		{name: "named twice", h: http.Header{"X-Forwarded-Uri": {"/public/", "/admin"}, "X-Forwarded-Method": {"GET"}}, want: 400},
		{name: "untrusted client", remote: "203.0.113.9:4444", h: traefik("GET", "app.example.com", "/public/"), want: 400},
		{name: "navigation without session, redirect mode", query: "?redirect=true", navigation: true, h: traefik("GET", "app.example.com", "/x?y=1"), want: 302},
		{name: "script without session, redirect mode", query: "?redirect=true", h: traefik("GET", "app.example.com", "/x"), want: 401},
		{name: "navigation without session, plain mode", navigation: true, h: traefik("GET", "app.example.com", "/x"), want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://gatehouse.internal"+authPath+tt.query, nil)
			if tt.remote != "" {
				req.RemoteAddr = tt.remote
			}
			for k, v := range tt.h {
				req.Header[k] = v
			}
			// Spoofed identity from the client, which forward-auth answers
			// must not echo.
			req.Header.Set(headerUser, "mallory")
			if tt.signedIn {
				req.Header.Set("Cookie", cookie)
			}
			req.Header.Set("Accept", "application/json")
			if tt.navigation {
				req.Header.Set("Accept", acceptHTML)
			}
			rec := httptest.NewRecorder()
			e.proxy.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("got %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			for k, v := range tt.headers {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("answer header %s = %q, want %q", k, got, v)
				}
			}
			switch rec.Code {
			case http.StatusUnauthorized:
				checkSignInURL(t, e, rec.Header().Get(signInHeader))
			case http.StatusFound:
				checkSignInURL(t, e, rec.Header().Get("Location"))
			}
		})
	}
}

// checkSignInURL checks that u starts a sign-in on the proxy that returns
// to the original request.
func checkSignInURL(t *testing.T, e *env, u string) {
	t.Helper()
	v, err := url.Parse(u)
	if err != nil || v.Scheme+"://"+v.Host != e.srv.URL || v.Path != startPath {
		t.Fatalf("sign-in URL %q is not %s%s", u, e.srv.URL, startPath)
	}
	if rd := v.Query().Get("rd"); !strings.Contains(rd, "://app.example.com/") {
		t.Fatalf("sign-in URL returns to %q, want the original request", rd)
	}
}

// TestForwardAuthWithoutRoutes checks that a configuration without routes
// is a pure forward-auth service: every signed-in person passes, and
// nothing is proxied.
func TestForwardAuthWithoutRoutes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Routes = nil; c.TrustedProxies = []string{"192.0.2.0/24"} })
	h := http.Header{"X-Forwarded-Uri": {"/anything"}, "X-Forwarded-Method": {"GET"}, "X-Forwarded-Host": {"app.example.com"}}
	if r := serve(e.proxy, http.MethodGet, authPath, h); r.Code != http.StatusUnauthorized {
		t.Fatalf("no session: got %d, want 401", r.Code)
	}
	h.Set("Cookie", cookieHeader(e.mint(e.testSession())))
	r := serve(e.proxy, http.MethodGet, authPath, h)
	if r.Code != http.StatusOK || r.Header().Get(headerUser) != "user-42" {
		t.Fatalf("signed in: got %d with user %q, want 200 with user-42", r.Code, r.Header().Get(headerUser))
	}
	if r := serve(e.proxy, http.MethodGet, "/anything", http.Header{"Cookie": h["Cookie"], "Accept": {acceptHTML}}); r.Code != http.StatusNotFound {
		t.Fatalf("a request to the proxy itself: got %d, want 404", r.Code)
	}
}

// TestForwardAuthDoesNotRenewCookies: the edge does not pass forward-auth's
// cookies to the browser, so a cookie-mode session is not refreshed there
// (the browser would go on sending the replaced cookie, whose refresh token
// the provider has rotated away); it ends with its tokens instead.
func TestForwardAuthDoesNotRenewCookies(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute })
	b := newBrowser(t)
	e.signIn(b, "/")
	ask := func() *response {
		return b.do(http.MethodGet, e.srv.URL+authPath, http.Header{"X-Forwarded-Uri": {"/"}, "X-Forwarded-Method": {"GET"}})
	}
	e.clock.Advance(9*time.Minute + time.Second)
	if r := ask(); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("within the skew: got %d, %d refreshes, Set-Cookie %q; want 200 without either", r.StatusCode, e.op.refreshCalls.Load(), r.Header.Get("Set-Cookie"))
	}
	e.clock.Advance(time.Minute)
	if r := ask(); r.StatusCode != http.StatusUnauthorized || e.op.refreshCalls.Load() != 0 {
		t.Fatalf("after the tokens expire: got %d with %d refreshes, want 401 without a refresh", r.StatusCode, e.op.refreshCalls.Load())
	}
}
