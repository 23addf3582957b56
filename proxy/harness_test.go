package proxy

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// The identity headers of the default preset.
const (
	headerUser              = "X-Forwarded-User"
	headerEmail             = "X-Forwarded-Email"
	headerPreferredUsername = "X-Forwarded-Preferred-Username"
	headerGroups            = "X-Forwarded-Groups"
)

func newTestClock() *fakeclock.Clock {
	return fakeclock.New(time.Now().Truncate(time.Second))
}

// testUpstream records what the proxy forwarded to it.
type testUpstream struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []*http.Request
}

func newTestUpstream(t testing.TB) *testUpstream {
	u := &testUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(r.Context()))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream saw "+r.URL.Path+" as "+r.Header.Get(headerUser))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// last returns the last request the upstream received.
func (u *testUpstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *testUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// env is a proxy between a test provider and a test upstream, all served
// over real HTTP on loopback.
type env struct {
	t     testing.TB
	clock *fakeclock.Clock
	op    *testProvider
	up    *testUpstream
	proxy *Proxy
	srv   *httptest.Server
	logs  *syncbuf.Buffer
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-only")

func newEnv(t testing.TB, options ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newTestClock(), up: newTestUpstream(t), logs: &syncbuf.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", e.logs.String())
		}
	})
	e.op = newTestProvider(t, e.clock.Now)
	e.start(options...)
	e.op.redirectURI = e.srv.URL + CallbackPath
	return e
}

// replica is a second proxy in front of the same provider and upstream,
// as another replica behind a load balancer would be.
func (e *env) replica(options ...func(*Config)) *env {
	e.t.Helper()
	r := *e
	r.start(options...)
	return &r
}

// start serves a new proxy.
func (e *env) start(options ...func(*Config)) {
	t := e.t
	t.Helper()
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	pub, _ := url.Parse(e.srv.URL)
	cfg := Config{
		PublicURL: pub,
		Provider: ProviderConfig{
			IssuerURL:    e.op.issuer(),
			ClientID:     e.op.clientID,
			ClientSecret: e.op.clientSecret,
		},
		Cookie: CookieConfig{Secrets: [][]byte{testSecret}},
		Routes: []Route{{Path: "/", Upstream: e.up.srv.URL}},
		Now:    e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range options {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.proxy, h = p, p
}

// browser is an HTTP client with a cookie jar that follows redirects one
// step at a time, so tests can look at each.
type browser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a response with its body read.
type response struct {
	*http.Response
	body string
}

const acceptHTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

// get fetches u as a browser navigation.
func (b *browser) get(u string) *response {
	return b.do(http.MethodGet, u, http.Header{"Accept": {acceptHTML}})
}

func (b *browser) do(method, u string, h http.Header) *response {
	b.t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return b.send(req)
}

// send sends req and reads the whole response.
func (b *browser) send(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &response{Response: resp, body: string(body)}
}

// signOut confirms a sign-out at the proxy at base as a person would: it
// opens the confirmation page and submits its form.
func (b *browser) signOut(base, rd string) *response {
	b.t.Helper()
	page := b.get(base + signOutPath + "?rd=" + url.QueryEscape(rd))
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("sign-out page: got %d, want 200:\n%s", page.StatusCode, page.body)
	}
	return b.post(base+signOutPath, url.Values{"token": {formValue(b.t, page.body, "token")}, "rd": {rd}})
}

// post submits form to u as a browser would from the proxy's own page.
func (b *browser) post(u string, form url.Values) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", acceptHTML)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.send(req)
}

// formValue is the value of the hidden input called name in page.
func formValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in the page:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

// follow fetches u and follows redirects, as navigations, until a
// response that is not a redirect.
func (b *browser) follow(u string) *response {
	b.t.Helper()
	for range 10 {
		r := b.get(u)
		if r.StatusCode != http.StatusFound && r.StatusCode != http.StatusSeeOther {
			return r
		}
		next, err := r.Request.URL.Parse(r.Header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		u = next.String()
	}
	b.t.Fatalf("too many redirects from %s", u)
	return nil
}

// cookie returns the jar's cookie called name for u, or nil.
func (b *browser) cookie(u, name string) *http.Cookie {
	b.t.Helper()
	v, err := url.Parse(u)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.jar.Cookies(v) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// cookies returns the names of the jar's cookies for u.
func (b *browser) cookieNames(u string) []string {
	v, _ := url.Parse(u)
	var names []string
	for _, c := range b.jar.Cookies(v) {
		names = append(names, c.Name)
	}
	return names
}

// setCookie puts a cookie in the jar for u.
func (b *browser) setCookie(u string, c *http.Cookie) {
	v, _ := url.Parse(u)
	b.jar.SetCookies(v, []*http.Cookie{c})
}

// signIn walks the whole flow from path and returns the final response.
func (e *env) signIn(b *browser, path string) *response {
	e.t.Helper()
	r := b.follow(e.srv.URL + path)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("signing in at %s ended with %d: %s", path, r.StatusCode, r.body)
	}
	return r
}

// mint returns session cookies for s as the proxy would set them.
func (e *env) mint(s *session) []*http.Cookie {
	e.t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, e.srv.URL+CallbackPath, nil)
	if err := e.proxy.saveSession(rec, req, s); err != nil {
		e.t.Fatalf("saveSession: %v", err)
	}
	return rec.Result().Cookies()
}

// testSession is a valid session for the test provider's user.
func (e *env) testSession() *session {
	return &session{
		id:           randomToken(),
		expiry:       e.clock.Now().Add(time.Hour),
		touched:      e.clock.Now(),
		renewAt:      e.clock.Now().Add(time.Hour),
		kept:         keepAccess | keepID,
		tokensLoaded: true,
		Identity: policy.Identity{
			Subject:           "user-42",
			Email:             "ada@example.com",
			EmailVerified:     true,
			PreferredUsername: "ada",
			Name:              "Ada Lovelace",
			Groups:            []string{"eng", "ops"},
		},
		tokens: tokens{access: "at", refresh: "rt", id: "it", accessExpiry: e.clock.Now().Add(time.Hour)},
	}
}

// cookieHeader renders cookies as a Cookie request header.
func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}
