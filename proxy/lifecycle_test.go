package proxy

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// regexpLink finds the test provider's link to its password page.
var regexpLink = regexp.MustCompile(`href="(/login\?continue=[^"]+)"`)

// These tests move the injected clock through a session's life: refresh
// before the tokens expire, refresh failures, idle and absolute expiry.

// apiGet is a script's request: never a navigation.
func apiGet(b *browser, u string) *response {
	return b.do(http.MethodGet, u, http.Header{"Accept": {"application/json"}})
}

func TestRefreshBeforeTokensExpire(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute })
	b := newBrowser(t)
	e.signIn(b, "/")
	first := b.cookie(e.srv.URL, "_gatehouse").Value

	// Until the skew (one minute) before expiry, nothing is refreshed and
	// no cookie is written.
	e.clock.Advance(9*time.Minute - time.Second)
	r := apiGet(b, e.srv.URL+"/")
	if r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 0 || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("before the skew: got %d, %d refreshes, Set-Cookie %q; want 200, none, none", r.StatusCode, e.op.refreshCalls.Load(), r.Header.Get("Set-Cookie"))
	}

	// Groups change at the provider; the refresh reads them again.
	e.op.set(func(tp *testProvider) { tp.claims["groups"] = []string{"eng"} })
	e.clock.Advance(2 * time.Second)
	r = apiGet(b, e.srv.URL+"/")
	if r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("within the skew: got %d with %d refreshes, want 200 after one", r.StatusCode, e.op.refreshCalls.Load())
	}
	if c := findSetCookie(r.Response, "_gatehouse"); c == nil || c.Value == first || c.MaxAge <= 0 {
		t.Fatalf("the renewed session cookie is not on the response that refreshed: %+v", c)
	}
	if got := e.up.last(t).Header.Get(headerGroups); got != "eng" {
		t.Fatalf("groups after the refresh: got %q, want eng (re-read from the provider)", got)
	}

	// The renewed tokens last another ten minutes from the refresh.
	e.clock.Advance(5 * time.Minute)
	if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("after the old tokens' expiry: got %d with %d refreshes, want 200 with still one", r.StatusCode, e.op.refreshCalls.Load())
	}
	e.clock.Advance(5 * time.Minute)
	if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 2 {
		t.Fatalf("at the next skew: got %d with %d refreshes, want 200 after two", r.StatusCode, e.op.refreshCalls.Load())
	}
}

func TestRefreshWithoutIDTokenKeepsIdentity(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute; tp.refreshWithoutIDToken = true })
	b := newBrowser(t)
	e.signIn(b, "/")
	e.clock.Advance(9*time.Minute + time.Second)
	if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("got %d with %d refreshes, want 200 after one", r.StatusCode, e.op.refreshCalls.Load())
	}
	if got := e.up.last(t).Header.Get(headerUser); got != "user-42" {
		t.Fatalf("user after a refresh without ID token: got %q, want user-42 (from userinfo)", got)
	}
}

// TestConcurrentRequestsShareOneRefresh: many requests that find the
// session due at once cause one refresh, each gets the renewed cookie, and
// a request still carrying the old cookie shortly after gets the renewed
// session rather than a second refresh (which a rotating provider would
// take for theft).
func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute; tp.refreshGate = gate })
	b := newBrowser(t)
	e.signIn(b, "/")
	old := cookieHeader(b.jar.Cookies(mustParse(t, e.srv.URL)))
	e.clock.Advance(9*time.Minute + time.Second)

	const n = 20
	var wg sync.WaitGroup
	results := make([]*http.Response, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/", nil)
			req.Header.Set("Cookie", old)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			results[i] = resp
		})
	}
	// Let the first refresh reach the provider, then release it.
	for e.op.refreshCalls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if got := e.op.refreshCalls.Load(); got != 1 {
		t.Fatalf("%d concurrent requests made %d refreshes, want 1", n, got)
	}
	for i, resp := range results {
		if resp == nil || resp.StatusCode != http.StatusOK || findSetCookie(resp, "_gatehouse") == nil {
			t.Fatalf("request %d: got %+v, want 200 with the renewed cookie", i, resp)
		}
	}
	// A request sent before the browser had the new cookie.
	r := newBrowser(t).do(http.MethodGet, e.srv.URL+"/", http.Header{"Cookie": {old}})
	if r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 || findSetCookie(r.Response, "_gatehouse") == nil {
		t.Fatalf("the old cookie within the grace: got %d with %d refreshes, want 200 with the renewed cookie and no new refresh", r.StatusCode, e.op.refreshCalls.Load())
	}
}

func TestRefreshFailure(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		e := newEnv(t)
		e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute })
		b := newBrowser(t)
		e.signIn(b, "/")
		copied := cookieHeader(b.jar.Cookies(mustParse(t, e.srv.URL)))
		e.op.set(func(tp *testProvider) { tp.refreshStatus = http.StatusBadRequest })
		e.clock.Advance(9*time.Minute + time.Second)
		before := e.up.count()
		r := apiGet(b, e.srv.URL+"/")
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "could not be renewed") || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("API call after a refused refresh: got %d %s, want 401 JSON", r.StatusCode, r.body)
		}
		if c := findSetCookie(r.Response, "_gatehouse"); c == nil || c.MaxAge >= 0 {
			t.Fatalf("the ended session's cookie was not cleared: %+v", c)
		}
		if e.up.count() != before {
			t.Fatal("the upstream was reached with a session the provider refused")
		}
		// The session ended server-side: a copy of the cookie is refused
		// without asking the provider again.
		calls := e.op.refreshCalls.Load()
		nav := newBrowser(t).do(http.MethodGet, e.srv.URL+"/", http.Header{"Cookie": {copied}, "Accept": {acceptHTML}})
		if nav.StatusCode != http.StatusFound || !strings.HasPrefix(nav.Header.Get("Location"), e.op.issuer()) || e.op.refreshCalls.Load() != calls {
			t.Fatalf("a browser with the ended session: got %d to %q (%d refreshes), want 302 to sign in without a refresh", nav.StatusCode, nav.Header.Get("Location"), e.op.refreshCalls.Load()-calls)
		}
	})
	t.Run("provider down", func(t *testing.T) {
		e := newEnv(t)
		e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute })
		b := newBrowser(t)
		e.signIn(b, "/")
		e.op.set(func(tp *testProvider) { tp.refreshStatus = http.StatusServiceUnavailable })
		// Within the skew the tokens are still good: the request passes.
		e.clock.Advance(9*time.Minute + time.Second)
		if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || e.op.refreshCalls.Load() != 1 {
			t.Fatalf("refresh failing before expiry: got %d with %d refreshes, want 200 after one try", r.StatusCode, e.op.refreshCalls.Load())
		}
		// Once they expire, nothing is forwarded with a stale identity.
		e.clock.Advance(time.Minute)
		before := e.up.count()
		if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("refresh failing after expiry: got %d, want 401", r.StatusCode)
		}
		if e.up.count() != before {
			t.Fatal("the upstream was reached with an expired identity")
		}
		// The provider comes back: a browser signs in again.
		e.op.set(func(tp *testProvider) { tp.refreshStatus = 0 })
		if r := e.signIn(b, "/"); !strings.Contains(r.body, "user-42") {
			t.Fatalf("signing in again: %s", r.body)
		}
	})
}

func TestSessionLimits(t *testing.T) {
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Session.TTL = 2 * time.Hour })
		b := newBrowser(t)
		e.signIn(b, "/")
		for i := range 3 { // refreshed at 1h18
			e.clock.Advance(39 * time.Minute)
			if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK {
				t.Fatalf("at %s: got %d, want 200", time.Duration(i+1)*39*time.Minute, r.StatusCode)
			}
		}
		e.clock.Advance(3 * time.Minute)
		if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "session expired") {
			t.Fatalf("after the session TTL, however refreshed: got %d %s, want 401 session expired", r.StatusCode, r.body)
		}
		if n := e.op.refreshCalls.Load(); n != 1 {
			t.Fatalf("refreshes: got %d, want 1 (the tokens renewed at 1h18 outlive the session, so its refresh token is dropped)", n)
		}
	})
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Session.IdleTTL = 30 * time.Minute })
		e.op.set(func(tp *testProvider) { tp.accessTTL = 24 * time.Hour })
		b := newBrowser(t)
		e.signIn(b, "/")
		stale := cookieHeader(b.jar.Cookies(mustParse(t, e.srv.URL)))
		for range 4 {
			e.clock.Advance(25 * time.Minute)
			r := apiGet(b, e.srv.URL+"/")
			if r.StatusCode != http.StatusOK || findSetCookie(r.Response, "_gatehouse") == nil {
				t.Fatalf("used every 25 minutes: got %d, want 200 with the use recorded in the cookie", r.StatusCode)
			}
		}
		// The first cookie, replayed, still says when it was last used:
		// a browser cannot keep a session alive by keeping an old cookie.
		if r := newBrowser(t).do(http.MethodGet, e.srv.URL+"/", http.Header{"Cookie": {stale}}); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "without use") {
			t.Fatalf("the first cookie after 100 minutes: got %d %s, want 401 ended after a time without use", r.StatusCode, r.body)
		}
		e.clock.Advance(30 * time.Minute)
		if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.body, "without use") {
			t.Fatalf("after 30 idle minutes: got %d %s, want 401", r.StatusCode, r.body)
		}
	})
	t.Run("idle recorded sparingly", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Session.IdleTTL = 30 * time.Minute })
		e.op.set(func(tp *testProvider) { tp.accessTTL = 24 * time.Hour })
		b := newBrowser(t)
		e.signIn(b, "/")
		e.clock.Advance(time.Minute)
		if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK || r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("a minute after sign-in: got %d, Set-Cookie %q; want 200 and no cookie written (under a tenth of the idle TTL)", r.StatusCode, r.Header.Get("Set-Cookie"))
		}
	})
}

// TestSessionKeepsOnlyNeededTokens: without a route that passes tokens on,
// a provider logout to hint, or a refresh to make, the session is one small
// cookie.
func TestSessionKeepsOnlyNeededTokens(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ttl       time.Duration
		opts      func(*Config)
		logout    bool
		wantParts bool
		want      tokenSet
	}{
		{"nothing needed", 24 * time.Hour, nil, false, false, 0},
		{"refresh", time.Hour, nil, false, true, keepRefresh},
		{"logout hint", 24 * time.Hour, nil, true, true, keepID},
		{"access token upstream", 24 * time.Hour, func(c *Config) { c.Routes[0].Identity.Authorization = "access_token" }, false, true, keepAccess},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []func(*Config){}
			if tt.opts != nil {
				opts = append(opts, tt.opts)
			}
			e := newEnv(t, opts...)
			e.op.set(func(tp *testProvider) { tp.accessTTL = tt.ttl; tp.endSession = tt.logout })
			b := newBrowser(t)
			e.signIn(b, "/")
			c := b.cookie(e.srv.URL, "_gatehouse")
			s, err := e.proxy.loadSession(t.Context(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			if s.kept != tt.want {
				t.Fatalf("tokens kept: got %03b, want %03b", s.kept, tt.want)
			}
			parts := b.cookie(e.srv.URL, "_gatehouse_1") != nil
			if parts != tt.wantParts {
				t.Fatalf("token cookie: got %v, want %v", parts, tt.wantParts)
			}
			if !tt.wantParts && len(c.Value) > 400 {
				t.Fatalf("session cookie without tokens: %d bytes, want a few hundred", len(c.Value))
			}
		})
	}
}

// TestProviderLogout signs out at a provider with an end_session_endpoint:
// the browser goes there with the ID token as hint, comes back to rd, and
// the next visit asks for the password again.
func TestProviderLogout(t *testing.T) {
	e := newEnv(t)
	e.op.set(func(tp *testProvider) { tp.endSession, tp.requireLogin = true, true })
	b := newBrowser(t)
	passwordPage := func(r *response) bool {
		return r.StatusCode == http.StatusOK && strings.Contains(r.body, "Password, please")
	}
	r := b.follow(e.srv.URL + "/")
	if !passwordPage(r) {
		t.Fatalf("first visit: got %d %s, want the provider's password page", r.StatusCode, r.body)
	}
	login := regexpLink.FindStringSubmatch(r.body)
	if r = b.follow(e.op.issuer() + login[1]); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "user-42") {
		t.Fatalf("after the password: got %d %s", r.StatusCode, r.body)
	}

	out := b.signOut(e.srv.URL, "/bye")
	loc, err := url.Parse(out.Header.Get("Location"))
	if out.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), e.op.issuer()+"/logout?") {
		t.Fatalf("sign-out: got %d to %q, want 302 to the provider's end_session_endpoint", out.StatusCode, out.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("client_id") != e.op.clientID || q.Get("post_logout_redirect_uri") != e.srv.URL+signedOutPath || q.Get("state") == "" {
		t.Fatalf("logout parameters: %v", q)
	}
	hint, err := jwt.ParseSigned(q.Get("id_token_hint"), []jose.SignatureAlgorithm{jose.ES256})
	var claims jwt.Claims
	if err != nil || hint.Claims(&e.op.key.PublicKey, &claims) != nil || claims.Subject != "user-42" {
		t.Fatalf("id_token_hint is not the provider's ID token for user-42: %v %+v", err, claims)
	}
	back := b.get(loc.String())
	back = b.get(back.Header.Get("Location"))
	if back.StatusCode != http.StatusFound || back.Header.Get("Location") != "/bye" {
		t.Fatalf("back from the provider: got %d to %q, want 302 to /bye", back.StatusCode, back.Header.Get("Location"))
	}
	if r := b.follow(e.srv.URL + "/"); !passwordPage(r) {
		t.Fatalf("next visit: got %d %s, want the provider's password page again", r.StatusCode, r.body)
	}

	t.Run("skipped", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Provider.SkipLogout = true })
		e.op.set(func(tp *testProvider) { tp.endSession = true })
		b := newBrowser(t)
		e.signIn(b, "/")
		if out := b.signOut(e.srv.URL, ""); out.Header.Get("Location") != signedOutPath {
			t.Fatalf("sign-out with provider logout off: got %d to %q, want 302 to %s", out.StatusCode, out.Header.Get("Location"), signedOutPath)
		}
		if s, _ := e.proxy.discovery.get(t.Context()); len(e.op.logouts) != 0 || s.endSession != "" {
			t.Fatal("the provider's logout was used though skipped")
		}
	})
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
