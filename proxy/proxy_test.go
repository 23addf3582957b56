package proxy

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

func TestSessionCookieProblems(t *testing.T) {
	e := newEnv(t)
	good := e.mint(e.testSession())
	otherKeys := newEnv(t, func(c *Config) { c.Cookie.Secrets = [][]byte{bytes.Repeat([]byte("z"), 32)} })
	expired := e.testSession()
	expired.expiry = e.clock.Now().Add(-time.Second)
	flowValue, err := encode(e.proxy.codecs.flow, "_gatehouse", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cookie, reason string
	}{
		{"missing", "", "no session"},
		{"empty", "_gatehouse=", "no session"},
		{"tampered", "_gatehouse=" + flipChar(good[0].Value, 20), "session cookie is not valid"},
		{"truncated", "_gatehouse=" + good[0].Value[:len(good[0].Value)-4], "session cookie is not valid"},
		{"garbage", "_gatehouse=%%%;;==", "session cookie is not valid"},
		{"other secret", cookieHeader(otherKeys.mint(otherKeys.testSession())[:1]), "session cookie is not valid"},
		{"another kind of value", "_gatehouse=" + flowValue, "session cookie is not valid"},
		{"expired", cookieHeader(e.mint(expired)[:1]), "session expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := serve(e.proxy, http.MethodGet, "/x", http.Header{"Cookie": {tt.cookie}, "Accept": {"application/json"}})
			if api.Code != http.StatusUnauthorized || !strings.Contains(api.Body.String(), tt.reason) {
				t.Errorf("API request: got %d %s, want 401 with %q", api.Code, api.Body, tt.reason)
			}
			nav := serve(e.proxy, http.MethodGet, "/x", http.Header{"Cookie": {tt.cookie}, "Accept": {acceptHTML}})
			if loc := nav.Header().Get("Location"); nav.Code != http.StatusFound || !strings.HasPrefix(loc, e.op.issuer()+"/authorize?") {
				t.Errorf("navigation: got %d to %q, want 302 to the provider", nav.Code, loc)
			}
		})
	}
	if n := e.up.count(); n != 0 {
		t.Fatalf("requests with unusable sessions reached the upstream %d times", n)
	}
	if r := serve(e.proxy, http.MethodGet, "/x", http.Header{"Cookie": {cookieHeader(good)}}); r.Code != http.StatusOK {
		t.Fatalf("the untampered cookie: got %d, want 200", r.Code)
	}
}

func TestSecretRotation(t *testing.T) {
	old := newEnv(t)
	cookies := old.mint(old.testSession())
	newSecret := bytes.Repeat([]byte("n"), 32)
	rotated := newEnv(t, func(c *Config) { c.Cookie.Secrets = [][]byte{newSecret, testSecret} })
	if r := serve(rotated.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookieHeader(cookies)}}); r.Code != http.StatusOK {
		t.Fatalf("session under the previous secret after rotation: got %d, want 200", r.Code)
	}
	retired := newEnv(t, func(c *Config) { c.Cookie.Secrets = [][]byte{newSecret} })
	if r := serve(retired.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookieHeader(cookies)}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("session under a retired secret: got %d, want 401", r.Code)
	}
}

func TestSpoofedIdentityHeadersAreStripped(t *testing.T) {
	e := newEnv(t)
	s := e.testSession()
	s.Email, s.PreferredUsername, s.Groups = "", "", nil
	h := http.Header{"Cookie": {cookieHeader(e.mint(s))}}
	// Raw keys, as a client can send them: the server keeps names with
	// underscores as they are, and tests can bypass canonicalisation.
	for _, k := range []string{
		"X-Forwarded-User", "x-forwarded-user", "X_Forwarded_User", "X-FORWARDED-USER",
		"X-Forwarded-Email", "x_forwarded_email",
		"X-Forwarded-Preferred-Username", "x_forwarded_preferred_username",
		"X-Forwarded-Groups", "X_FORWARDED_GROUPS",
	} {
		h[k] = []string{"admin"}
	}
	h["X-Userx"] = []string{"kept"}
	if r := serve(e.proxy, http.MethodGet, "/", h); r.Code != http.StatusOK {
		t.Fatalf("got %d, want 200", r.Code)
	}
	up := e.up.last(t)
	var identity []string
	for k, v := range up.Header {
		if e.proxy.state.Load().headers.kind(k) == kindIdentity {
			identity = append(identity, k+": "+strings.Join(v, ","))
		}
	}
	if want := []string{"X-Forwarded-User: user-42"}; !slices.Equal(identity, want) {
		t.Fatalf("identity headers upstream: got %q, want %q", identity, want)
	}
	if got := up.Header.Get("X-Userx"); got != "kept" {
		t.Errorf("an unrelated header was removed: got %q, want kept", got)
	}
}

func TestOwnCookiesAreStripped(t *testing.T) {
	e := newEnv(t)
	session := cookieHeader(e.mint(e.testSession()))
	tests := []struct {
		name    string
		cookies []string
		want    []string
	}{
		{"only ours", []string{session + "; _gatehouse_1=a; _gatehouse_flow_abc=b"}, nil},
		{"mixed", []string{"a=1; " + session + "; _gatehouse_2=x; _gatehouseX=2; b=3; _gatehouse_flow_q=z"}, []string{"a=1; _gatehouseX=2; b=3"}},
		{"several lines", []string{"a=1", session, "b=2; _gatehouse_1=c"}, []string{"a=1; b=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": tt.cookies}); r.Code != http.StatusOK {
				t.Fatalf("got %d, want 200: %s", r.Code, r.Body)
			}
			if got := e.up.last(t).Header["Cookie"]; !slices.Equal(got, tt.want) {
				t.Fatalf("upstream Cookie: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitCookies(t *testing.T) {
	tests := []struct {
		lines     []string
		wantValue string
		wantRest  string
		wantOwn   bool
	}{
		{nil, "", "", false},
		{[]string{"a=1; b=2"}, "", "", false},
		{[]string{"_gatehouse=v1"}, "v1", "", true},
		{[]string{" a=1 ;_gatehouse=v1;; b=2 "}, "v1", "a=1; b=2", true},
		{[]string{"_gatehouse=first; _gatehouse=second"}, "first", "", true},
		{[]string{"_gatehouse_1=t; _gatehouse=v=="}, "v==", "", true},
		{[]string{"_gatehouse"}, "", "", true},
		{[]string{"_gatehousex=1", "_gatehouse_flow_s=f"}, "", "_gatehousex=1", true},
	}
	for _, tt := range tests {
		value, rest, own := splitCookies(tt.lines, "_gatehouse")
		if value != tt.wantValue || own != tt.wantOwn || (own && rest != tt.wantRest) {
			t.Errorf("splitCookies(%q) = (%q, %q, %v), want (%q, %q, %v)", tt.lines, value, rest, own, tt.wantValue, tt.wantRest, tt.wantOwn)
		}
	}
}

func TestRoutes(t *testing.T) {
	apps := map[string]*testUpstream{}
	for _, n := range []string{"root", "app", "appAdmin"} {
		apps[n] = newTestUpstream(t)
	}
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{
			{Path: "/app", Upstream: apps["app"].srv.URL},
			{Path: "/", Upstream: apps["root"].srv.URL},
			{Path: "/app/admin/", Upstream: apps["appAdmin"].srv.URL},
		}
	})
	cookie := cookieHeader(e.mint(e.testSession()))
	tests := []struct {
		path, app, upstreamPath string
	}{
		{"/", "root", "/"},
		{"/apple", "root", "/apple"},
		{"/app", "app", "/app"},
		{"/app/x", "app", "/app/x"},
		{"/app/admin", "appAdmin", "/app/admin"},
		{"/app/admin/users/", "appAdmin", "/app/admin/users/"},
		{"/app/../app/admin/x", "appAdmin", "/app/admin/x"},
		{"/app/admin/../x", "app", "/app/x"},
		{"/app//admin/y", "appAdmin", "/app/admin/y"},
		{"/app/%2e%2e/other", "root", "/other"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			before := apps[tt.app].count()
			r := serve(e.proxy, http.MethodGet, tt.path, http.Header{"Cookie": {cookie}})
			if r.Code != http.StatusOK || apps[tt.app].count() != before+1 {
				t.Fatalf("got %d, want 200 from %s: %s", r.Code, tt.app, r.Body)
			}
			if got := apps[tt.app].last(t).URL.Path; got != tt.upstreamPath {
				t.Errorf("upstream path: got %q, want %q", got, tt.upstreamPath)
			}
		})
	}
}

func TestNotFoundPages(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Routes = []Route{{Path: "/app", Upstream: c.Routes[0].Upstream}} })
	for _, p := range []string{"/elsewhere", "/oauth2/unknown", "/oauth2", "/x/../oauth2/nope"} {
		r := serve(e.proxy, http.MethodGet, p, http.Header{"Accept": {acceptHTML}})
		if r.Code != http.StatusNotFound {
			t.Errorf("%s: got %d, want 404", p, r.Code)
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Cache-Control":          "no-store",
			"Content-Type":           "text/html; charset=utf-8",
		} {
			if got := r.Header().Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", p, h, got, want)
			}
		}
	}
}

func TestReservedPathsAreCleanedFirst(t *testing.T) {
	e := newEnv(t)
	r := serve(e.proxy, http.MethodGet, "/app/../oauth2/start?rd=%2Fa", nil)
	if loc := r.Header().Get("Location"); r.Code != http.StatusFound || !strings.HasPrefix(loc, e.op.issuer()) {
		t.Fatalf("/app/../oauth2/start: got %d to %q, want the sign-in redirect", r.Code, loc)
	}
}

func TestLargeSessions(t *testing.T) {
	t.Run("tokens split over chunks", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Routes[0].Identity.AccessTokenHeader = true })
		e.op.set(func(tp *testProvider) { tp.extraTokenBytes = 5000 })
		b := newBrowser(t)
		e.signIn(b, "/")
		names := b.cookieNames(e.srv.URL)
		slices.Sort(names)
		if want := []string{"_gatehouse", "_gatehouse_1", "_gatehouse_2", "_gatehouse_3"}; !slices.Equal(names, want) {
			t.Fatalf("cookies: got %q, want %q", names, want)
		}
		var joined string
		for _, n := range names[1:] {
			c := b.cookie(e.srv.URL, n)
			if len(c.Name)+len(c.Value) > maxCookieBytes {
				t.Errorf("cookie %s is %d bytes, over %d", n, len(c.Name)+len(c.Value), maxCookieBytes)
			}
			joined += c.Value
		}
		s, err := e.proxy.loadSession(context.Background(), b.cookie(e.srv.URL, "_gatehouse").Value)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := decode(e.proxy.codecs.tokens, "tokens/"+s.id, joined)
		if err != nil {
			t.Fatalf("joined chunks do not decode: %v", err)
		}
		tok, err := decodeTokens(raw)
		// The ID token is not needed: no route sends it, and the provider
		// has no logout endpoint to hint.
		if err != nil || len(tok.access) < 5000 || tok.refresh == "" || tok.id != "" {
			t.Fatalf("tokens from chunks: got access %d bytes, refresh %q, id token %d bytes (%v); want access, refresh, no ID token", len(tok.access), tok.refresh, len(tok.id), err)
		}
		if got := e.up.last(t).Header.Get("Cookie"); got != "" {
			t.Fatalf("chunks reached the upstream: %q", got)
		}
	})
	t.Run("tokens too large", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Routes[0].Identity.AccessTokenHeader = true })
		e.op.set(func(tp *testProvider) { tp.extraTokenBytes = 12000 })
		r := newBrowser(t).follow(e.srv.URL + "/")
		if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.body, "too large for a cookie") || !strings.Contains(r.body, "session_store: redis") {
			t.Fatalf("got %d, want 500 explaining the size and the Redis store:\n%s", r.StatusCode, r.body)
		}
		if c := findSetCookie(r.Response, "_gatehouse"); c != nil {
			t.Fatalf("a session cookie was set anyway: %+v", c)
		}
	})
	t.Run("identity too large", func(t *testing.T) {
		e := newEnv(t)
		groups := make([]string, 400)
		for i := range groups {
			groups[i] = "a-rather-long-group-name-" + strings.Repeat("x", i%10)
		}
		e.op.set(func(tp *testProvider) { tp.claims["groups"] = groups })
		r := newBrowser(t).follow(e.srv.URL + "/")
		if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.body, "name, email and groups") {
			t.Fatalf("got %d, want 500 naming the identity:\n%s", r.StatusCode, r.body)
		}
	})
	t.Run("shrinking session deletes stale chunks", func(t *testing.T) {
		e := newEnv(t)
		e.op.set(func(tp *testProvider) { tp.extraTokenBytes = 5000 })
		b := newBrowser(t)
		e.signIn(b, "/")
		e.op.set(func(tp *testProvider) { tp.extraTokenBytes = 0 })
		e.signIn(b, "/oauth2/start")
		names := b.cookieNames(e.srv.URL)
		slices.Sort(names)
		if want := []string{"_gatehouse", "_gatehouse_1"}; !slices.Equal(names, want) {
			t.Fatalf("cookies after a smaller session: got %q, want %q", names, want)
		}
	})
}

func TestUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	cookie := cookieHeader(e.mint(e.testSession()))
	e.up.srv.Close()
	r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookie}, "Accept": {acceptHTML}})
	if r.Code != http.StatusBadGateway || !strings.Contains(r.Body.String(), "could not be reached") {
		t.Fatalf("upstream down: got %d, want 502 page: %s", r.Code, r.Body)
	}
	if got := r.Header().Get("Content-Security-Policy"); got == "" {
		t.Error("502 page without Content-Security-Policy")
	}

	for _, err := range []error{context.DeadlineExceeded, &net.OpError{Op: "dial", Err: timeoutError{}}} {
		rec := httptest.NewRecorder()
		e.proxy.upstreamError(rec, httptest.NewRequest(http.MethodGet, "/", nil), err)
		if rec.Code != http.StatusGatewayTimeout {
			t.Errorf("upstreamError(%v): got %d, want 504", err, rec.Code)
		}
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestNewRejectsBadConfig(t *testing.T) {
	const upstream = "http://127.0.0.1:9"
	valid := func() Config {
		pub, _ := url.Parse("http://localhost:8000")
		return Config{
			PublicURL: pub,
			Provider:  ProviderConfig{IssuerURL: "http://localhost:9000", ClientID: "c"},
			Cookie:    CookieConfig{Secrets: [][]byte{testSecret}},
			Routes:    []Route{{Path: "/", Upstream: upstream}},
		}
	}
	if _, err := New(valid()); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no public URL", func(c *Config) { c.PublicURL = nil }, "PublicURL"},
		{"public URL with path", func(c *Config) { c.PublicURL, _ = url.Parse("http://localhost:8000/app") }, "without path"},
		{"no issuer", func(c *Config) { c.Provider.IssuerURL = "" }, "IssuerURL"},
		{"no openid scope", func(c *Config) { c.Provider.Scopes = []string{"profile"} }, "must include openid"},
		{"no secret", func(c *Config) { c.Cookie.Secrets = nil }, "Cookie.Secrets"},
		{"short secret", func(c *Config) { c.Cookie.Secrets = [][]byte{[]byte("short")} }, "at least 32"},
		{"bad cookie name", func(c *Config) { c.Cookie.Name = "a b" }, "Cookie.Name"},
		{"negative TTL", func(c *Config) { c.Session.TTL = -time.Second }, "must not be negative"},
		{"relative prefix", func(c *Config) { c.Routes[0].Path = "app" }, "routes[0].path: \"app\" must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSessionCodecRoundTrip(t *testing.T) {
	in := &session{
		id: "id", generation: 7, expiry: time.Unix(1900000000, 0), touched: time.Unix(1800000000, 0),
		renewAt: time.Unix(1800003600, 0), kept: keepAccess | keepRefresh,
		Identity: policy.Identity{
			Subject: "s", Email: "e", PreferredUsername: "p", Name: "n", Groups: []string{"g1", "", "g3"},
			Claims: map[string][]string{"department": {"sales", "ops"}, "level": nil},
		},
		tokens: tokens{access: "a", refresh: "r", id: "i", accessExpiry: time.Unix(1800000000, 0)},
	}
	out, err := decodeRecord(encodeRecord(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.id != in.id || out.generation != in.generation || !out.expiry.Equal(in.expiry) || !out.touched.Equal(in.touched) ||
		!out.renewAt.Equal(in.renewAt) || out.kept != in.kept || out.Subject != in.Subject || out.Email != in.Email ||
		out.PreferredUsername != in.PreferredUsername || out.Name != in.Name || !slices.Equal(out.Groups, in.Groups) ||
		!maps.EqualFunc(out.Claims, in.Claims, slices.Equal) ||
		out.tokens.access != "a" || out.tokens.refresh != "r" || out.tokens.id != "i" || !out.tokens.accessExpiry.Equal(in.tokens.accessExpiry) {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	ident := appendIdentity(nil, in)
	for i := range ident {
		if _, err := decodeIdentity(ident[:i]); err == nil {
			t.Fatalf("decodeIdentity accepted a value truncated to %d of %d bytes", i, len(ident))
		}
	}
	if _, err := decodeIdentity(append(ident, 0)); err == nil {
		t.Fatal("decodeIdentity accepted trailing bytes")
	}
}

// serve runs one request through p in-process (the upstream is still
// reached over HTTP).
func serve(p *Proxy, method, target string, h http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	return rec
}

// decodeTokens parses a value made by appendTokens.
func decodeTokens(b []byte) (tokens, error) {
	d := decoder{s: string(b)}
	var t tokens
	d.tokens(&t)
	if d.bad || d.s != "" {
		return tokens{}, errMalformed
	}
	return t, nil
}

// TestSpoofedForwardingHeadersAreStripped checks that a client cannot choose
// the client address, host or scheme the upstream sees by spelling the
// X-Forwarded-* headers with underscores, which CGI-style servers read as
// the dashed name.
func TestSpoofedForwardingHeadersAreStripped(t *testing.T) {
	e := newEnv(t)
	want := map[string]string{
		"X-Forwarded-For":   "192.0.2.1",
		"X-Forwarded-Host":  "example.com",
		"X-Forwarded-Proto": "http",
	}
	tests := []struct{ name, key, value string }{
		{"for, dashes", "X-Forwarded-For", "203.0.113.9"},
		{"for, underscores", "X_Forwarded_For", "203.0.113.9"},
		{"for, underscores lower case", "x_forwarded_for", "203.0.113.9"},
		{"host, underscores", "X_Forwarded_Host", "evil.example"},
		{"host, mixed", "X-Forwarded_Host", "evil.example"},
		{"proto, underscores", "X_FORWARDED_PROTO", "https"},
		{"forwarded", "Forwarded", "for=203.0.113.9;proto=https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": {cookieHeader(e.mint(e.testSession()))}}
			h[tt.key] = []string{tt.value}
			if r := serve(e.proxy, http.MethodGet, "/", h); r.Code != http.StatusOK {
				t.Fatalf("got %d, want 200", r.Code)
			}
			got := map[string]string{}
			for k, v := range e.up.last(t).Header {
				n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
				if (strings.HasPrefix(n, "x-forwarded-") || n == "forwarded") && e.proxy.state.Load().headers.kind(k) != kindIdentity {
					got[k] = strings.Join(v, ",")
				}
			}
			if !maps.Equal(got, want) {
				t.Fatalf("forwarding headers upstream: got %q, want %q", got, want)
			}
		})
	}
}

// TestUpstreamCannotSetOwnCookies checks that an upstream cannot set a
// cookie named like one of the proxy's: it could sign the browser out, or
// plant another person's session for every route.
func TestUpstreamCannotSetOwnCookies(t *testing.T) {
	var setCookies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Set-Cookie"] = setCookies
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, func(c *Config) { c.Routes = []Route{{Path: "/", Upstream: up.URL}} })
	cookie := cookieHeader(e.mint(e.testSession()))
	tests := []struct {
		name string
		set  []string
		want []string
	}{
		{"none", nil, nil},
		{"the app's own", []string{"app=1; Path=/", "theme=dark"}, []string{"app=1; Path=/", "theme=dark"}},
		{"session cookie", []string{"_gatehouse=planted; Path=/; HttpOnly"}, nil},
		{"session cookie shadowed by path", []string{"_gatehouse=planted; Path=/admin"}, nil},
		{"token chunk", []string{"_gatehouse_1=x"}, nil},
		{"flow", []string{"_gatehouse_flow_abc=x; Max-Age=600"}, nil},
		{"spaces around the name", []string{" \t_gatehouse =planted"}, nil},
		{"without a value", []string{"_gatehouse"}, nil},
		{"mixed", []string{"a=1", "_gatehouse=planted", "_gatehouseX=2", "b=3"}, []string{"a=1", "_gatehouseX=2", "b=3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setCookies = tt.set
			r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookie}})
			if r.Code != http.StatusNoContent {
				t.Fatalf("got %d, want 204: %s", r.Code, r.Body)
			}
			if got := r.Header()["Set-Cookie"]; !slices.Equal(got, tt.want) {
				t.Fatalf("Set-Cookie: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSessionCookieShadowedByAnother checks that an unusable cookie with the
// session cookie's name, sent first (a parent-domain cookie set by a
// sibling site, or one left from an earlier Domain setting), does not hide
// the valid session and send the person round a sign-in loop.
func TestSessionCookieShadowedByAnother(t *testing.T) {
	e := newEnv(t)
	good := cookieHeader(e.mint(e.testSession()))
	expired := e.testSession()
	expired.expiry = e.clock.Now().Add(-time.Second)
	stale := e.mint(expired)[0].Value
	tests := []struct {
		name, cookie string
		want         int
	}{
		{"garbage first", "_gatehouse=garbage; " + good, http.StatusOK},
		{"expired first", "_gatehouse=" + stale + "; " + good, http.StatusOK},
		{"empty first", "_gatehouse=; " + good, http.StatusOK},
		{"only unusable ones", "_gatehouse=garbage; _gatehouse=" + stale, http.StatusUnauthorized},
		{"too many before it", strayCookies(maxShadowingCookies+1) + good, http.StatusUnauthorized},
		{"a few before it", strayCookies(maxShadowingCookies) + good, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(e.proxy, http.MethodGet, "/x", http.Header{"Cookie": {tt.cookie}})
			if r.Code != tt.want {
				t.Fatalf("got %d, want %d: %s", r.Code, tt.want, r.Body)
			}
		})
	}
}

// strayCookies returns n session cookies with distinct unusable values, as
// a Cookie header prefix.
func strayCookies(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "_gatehouse=stray%d; ", i)
	}
	return b.String()
}
