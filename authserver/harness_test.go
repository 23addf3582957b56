package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"

	"github.com/gatehouse/gatehouse/internal/fakeclock"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// Test users and clients. Passwords and secrets are test-only values.
const (
	alicePassword  = "correct horse battery staple"
	webSecret      = "web secret with spaces & symbols=%+"
	postSecret     = "post-client-secret"
	tutorialSecret = "client_secret_1"
	webRedirect    = "https://app.example/callback"
	spaRedirect    = "http://127.0.0.1:5555/cb"
	postRedirect   = "https://post.example/cb"
	legacyRedirect = "http://localhost:8000/callback"
)

// sharedDirectory is built once: building one runs bcrypt, which the race
// detector makes slow.
var sharedDirectory = sync.OnceValues(func() (*directory.Directory, error) { return buildDirectory() })

// testDirectory returns the test users and clients, plus extra clients.
func testDirectory(t testing.TB, extra ...directory.Client) *directory.Directory {
	t.Helper()
	var (
		d   *directory.Directory
		err error
	)
	if len(extra) == 0 {
		d, err = sharedDirectory()
	} else {
		d, err = buildDirectory(extra...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func buildDirectory(extra ...directory.Client) (*directory.Directory, error) {
	hash := func(s string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		return h
	}
	users := []directory.User{
		{ID: "alice", PasswordHash: hash(alicePassword), Name: "Alice Example", Email: "alice@example.com", EmailVerified: true, Groups: []string{"admins", "dev"}},
		{ID: "bob", PasswordHash: hash("bob password"), Email: "bob@example.com"},
		{ID: "id001", PasswordHash: hash("mypassword")},
	}
	clients := []directory.Client{
		{
			ID: "web", Name: "Web App", Secret: webSecret,
			RedirectURIs: []string{webRedirect, "https://app.example/other"},
			Scopes:       []string{"openid", "profile", "email", "groups"},
			AuthMethod:   directory.AuthClientSecretBasic,
			GrantTypes:   []string{grantAuthorizationCode, grantRefreshToken},
			RequirePKCE:  true,
		},
		{
			ID: "post", Secret: string(hash(postSecret)), SecretIsHash: true,
			RedirectURIs: []string{postRedirect},
			Scopes:       []string{"openid", "profile"},
			AuthMethod:   directory.AuthClientSecretPost,
			GrantTypes:   []string{grantAuthorizationCode},
			RequirePKCE:  true,
		},
		{
			ID: "spa", Name: "Single-page app",
			RedirectURIs: []string{spaRedirect},
			Scopes:       []string{"openid", "profile", "offline_access"},
			AuthMethod:   directory.AuthNone,
			GrantTypes:   []string{grantAuthorizationCode, grantRefreshToken},
			RequirePKCE:  true,
		},
		{
			// The tutorial's client: Basic auth, no PKCE, profile only.
			ID: "client_1", Secret: tutorialSecret,
			RedirectURIs: []string{legacyRedirect},
			Scopes:       []string{"profile"},
			AuthMethod:   directory.AuthClientSecretBasic,
			GrantTypes:   []string{grantAuthorizationCode},
			RequirePKCE:  false,
		},
	}
	return directory.New(users, append(clients, extra...))
}

// harness is an authorization server behind a real HTTP listener.
type harness struct {
	t     testing.TB
	srv   *Server
	ts    *httptest.Server
	clk   *fakeclock.Clock
	store *memory.Store
	logs  *syncbuf.Buffer
}

func newHarness(t testing.TB, modify ...func(*Config)) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		clk:   fakeclock.New(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)),
		store: memory.New(),
		logs:  &syncbuf.Buffer{},
	}
	h.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.srv.ServeHTTP(w, r) }))
	t.Cleanup(h.ts.Close)
	cfg := Config{
		Issuer:        h.ts.URL,
		Directory:     testDirectory(t),
		Store:         h.store,
		CookieSecrets: [][]byte{[]byte("test cookie secret, thirty-two bytes or more")},
		Now:           h.clk.Now,
		Logger:        slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range modify {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.srv = srv
	return h
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so each step of a flow can be checked.
type browser struct {
	t      testing.TB
	h      *harness
	client *http.Client
}

func (h *harness) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &browser{t: h.t, h: h, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   string
}

func (r *response) location(t testing.TB) *url.URL {
	t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		t.Fatalf("got status %d without Location, want a redirect; body: %s", r.status, r.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("response is not JSON: %v; body: %s", err, r.body)
	}
	return m
}

func do(t testing.TB, c *http.Client, req *http.Request) *response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// abs resolves a path or URL against the test server.
func (h *harness) abs(ref string) string {
	base, _ := url.Parse(h.ts.URL)
	u, err := base.Parse(ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.String()
}

func (b *browser) get(ref string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.h.abs(ref), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return do(b.t, b.client, req)
}

func (b *browser) post(ref string, form url.Values) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.h.abs(ref), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(b.t, b.client, req)
}

func (b *browser) authorize(params url.Values) *response {
	b.t.Helper()
	return b.get(PathAuthorize + "?" + params.Encode())
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a rendered form.
func hiddenFields(t testing.TB, r *response) url.Values {
	t.Helper()
	if r.status != http.StatusOK && r.status != http.StatusUnauthorized {
		t.Fatalf("got status %d, want a page with a form; body: %s", r.status, r.body)
	}
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(r.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("req") == "" || v.Get("csrf_token") == "" {
		t.Fatalf("form lacks req or csrf_token; body: %s", r.body)
	}
	return v
}

// submitLogin fills in the login form that the authorization response r
// redirected to.
func (b *browser) submitLogin(r *response, user, password string) *response {
	b.t.Helper()
	loc := r.location(b.t)
	if loc.Path != PathLogin {
		b.t.Fatalf("redirected to %s, want the login page", loc)
	}
	form := hiddenFields(b.t, b.get(loc.String()))
	form.Set("user_id", user)
	form.Set("password", password)
	return b.post(PathLogin, form)
}

// decide answers the consent page that r redirected to.
func (b *browser) decide(r *response, decision string) *response {
	b.t.Helper()
	loc := r.location(b.t)
	if loc.Path != PathConsent {
		b.t.Fatalf("redirected to %s, want the consent page", loc)
	}
	form := hiddenFields(b.t, b.get(loc.String()))
	form.Set("decision", decision)
	return b.post(PathConsent, form)
}

// callback checks that r redirects to the client's redirect URI and returns
// the response parameters.
func callback(t testing.TB, r *response, redirectURI string) url.Values {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("got status %d, want 303 to the client; body: %s", r.status, r.body)
	}
	loc := r.location(t)
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query()
}

// pkce returns a code verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams are the parameters of a typical request by client "web".
func authParams(challenge string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {"web"},
		"redirect_uri":          {webRedirect},
		"scope":                 {"openid profile email groups"},
		"state":                 {"state-123"},
		"nonce":                 {"nonce-456"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

// signIn runs authorize, and login and approval where asked, for params and
// returns the callback parameters.
func (b *browser) signIn(params url.Values, user, password string) url.Values {
	b.t.Helper()
	r := b.authorize(params)
	if loc, _ := url.Parse(r.header.Get("Location")); loc != nil && loc.Path == PathLogin {
		r = b.submitLogin(r, user, password)
	}
	if loc, _ := url.Parse(r.header.Get("Location")); loc != nil && loc.Path == PathConsent {
		r = b.decide(r, "approve")
	}
	redirect := params.Get("redirect_uri")
	if redirect == "" {
		redirect = b.h.srv.directory().Client(params.Get("client_id")).RedirectURIs[0]
	}
	return callback(b.t, r, redirect)
}

// withT returns the browser, sharing its cookies, reporting to t.
func (b *browser) withT(t testing.TB) *browser {
	c := *b
	c.t = t
	return &c
}

// tokenCall posts a token request.
func (h *harness) tokenCall(form url.Values, basicID, basicSecret string) *response {
	h.t.Helper()
	return h.clientCall(PathToken, form, basicID, basicSecret)
}

// clientCall posts a form to a client endpoint, with Basic authentication
// when basicID is set.
func (h *harness) clientCall(path string, form url.Values, basicID, basicSecret string) *response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		// RFC 6749 §2.3.1: form-urlencode, then Basic.
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	return do(h.t, h.ts.Client(), req)
}

// exchange redeems a code for client "web" and returns the token response.
func (h *harness) exchange(code, verifier string) map[string]any {
	h.t.Helper()
	r := h.tokenCall(url.Values{
		"grant_type":    {grantAuthorizationCode},
		"code":          {code},
		"redirect_uri":  {webRedirect},
		"code_verifier": {verifier},
	}, "web", webSecret)
	if r.status != http.StatusOK {
		h.t.Fatalf("token exchange: status %d, body %s", r.status, r.body)
	}
	return r.json(h.t)
}

// bearerCall calls a resource endpoint with an access token.
func (h *harness) bearerCall(method, path, token string) *response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, h.ts.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(h.t, h.ts.Client(), req)
}

// wantOAuthError checks a JSON error response.
func wantOAuthError(t testing.TB, r *response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("got status %d, want %d; body: %s", r.status, status, r.body)
	}
	if got := r.json(t)["error"]; got != code {
		t.Errorf("got error %v, want %s; body: %s", got, code, r.body)
	}
}

func base64RawURL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustJar(t testing.TB) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

func hasCookie(cookies []*http.Cookie, name string) bool {
	for _, c := range cookies {
		if c.Name == name {
			return true
		}
	}
	return false
}

// serve calls the server's handler directly, for issuers that are not the
// test listener.
func serve(srv *Server, method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}
