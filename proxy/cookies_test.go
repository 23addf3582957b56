package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestInvalidSessionCookieIsCleared(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name   string
		accept string
		want   int
	}{
		{"navigation", acceptHTML, http.StatusFound},
		{"API call", "application/json", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newBrowser(t).do(http.MethodGet, e.srv.URL+"/", http.Header{
				"Cookie": {"_gatehouse=tampered; _gatehouse_1=x; _gatehouse_flow_abc=y"},
				"Accept": {tt.accept},
			})
			if r.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", r.StatusCode, tt.want)
			}
			for _, name := range []string{"_gatehouse", "_gatehouse_1"} {
				if c := findSetCookie(r.Response, name); c == nil || c.MaxAge >= 0 {
					t.Errorf("%s: got %+v, want it deleted", name, c)
				}
			}
		})
	}
}

// TestSignInClearsTheOldSession: a session cookie present when a sign-in
// starts is cleared then, and its session ended, so a cookie planted
// before the sign-in is never the one used after it.
func TestSignInClearsTheOldSession(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	e.signIn(b, "/")
	planted := cookieHeader(b.jar.Cookies(mustParse(t, e.srv.URL)))
	r := b.get(e.srv.URL + startPath)
	if c := findSetCookie(r.Response, "_gatehouse"); r.StatusCode != http.StatusFound || c == nil || c.MaxAge >= 0 {
		t.Fatalf("starting a sign-in: got %d, session cookie %+v; want 302 deleting it", r.StatusCode, c)
	}
	if got := newBrowser(t).do(http.MethodGet, e.srv.URL+"/", http.Header{"Cookie": {planted}}); got.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the session from before the sign-in: got %d, want 401", got.StatusCode)
	}
}

// TestHostileCookieCount: hundreds of cookies named like the proxy's cost
// no more than a few: at most a bounded number are read or cleared.
func TestHostileCookieCount(t *testing.T) {
	e := newEnv(t)
	var parts []string
	for i := range 500 {
		parts = append(parts, fmt.Sprintf("_gatehouse_%d=x", i), fmt.Sprintf("_gatehouse_flow_%d=y", i))
	}
	header := strings.Join(parts, "; ")
	for _, path := range []string{"/", startPath} {
		req := httptest.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("Cookie", header)
		req.Header.Set("Accept", acceptHTML)
		rec := httptest.NewRecorder()
		e.proxy.ServeHTTP(rec, req)
		if n := len(rec.Result().Cookies()); n > maxOwnCookies+1 {
			t.Errorf("%s: %d Set-Cookie headers for a request with 1000 stray cookies, want at most %d", path, n, maxOwnCookies+1)
		}
	}
}

func TestHostPrefix(t *testing.T) {
	pub, _ := url.Parse("https://app.example.com")
	for _, tt := range []struct {
		name, domain, want string
	}{
		{"https without domain", "", "__Host-_gatehouse"},
		{"https with domain", "example.com", "_gatehouse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{
				PublicURL: pub,
				Provider:  ProviderConfig{IssuerURL: "https://op.example.com", ClientID: "c"},
				Cookie:    CookieConfig{Domain: tt.domain, Secrets: [][]byte{testSecret}},
			})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			s := &session{id: "i", expiry: p.now().Add(1e12), renewAt: p.now().Add(1e12)}
			s.Subject = "u"
			if err := p.writeSession(rec, httptest.NewRequest(http.MethodGet, "/", nil), s); err != nil {
				t.Fatal(err)
			}
			c := findSetCookie(rec.Result(), tt.want)
			if c == nil || c.Path != "/" || (tt.domain == "") != (c.Domain == "") || !c.Secure && tt.domain == "" {
				t.Fatalf("session cookie: got %v, want %s", rec.Result().Cookies(), tt.want)
			}
			// The bundled authserver's cookies on the same host are the
			// proxy's too, and never reach an upstream.
			if _, rest, own := splitCookies([]string{"_gatehouse_auth=a; app=1"}, p.cookieName); tt.domain == "" && (!own || rest != "app=1") {
				t.Fatalf("with the prefix, _gatehouse_auth: own %v, rest %q", own, rest)
			}
		})
	}
}
