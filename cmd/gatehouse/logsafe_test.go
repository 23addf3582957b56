package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/htmlform"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// TestLogsHoldNoSecrets runs `gatehouse serve` with debug logging through
// everything a deployment does — a wrong password, sign-in with consent,
// proxied requests, refreshes, bearer calls, every token endpoint grant,
// userinfo, introspection, revocation, sign-out at both servers and
// back-channel logout — collecting every secret that crossed the wire, and
// then checks that the logs contain none of them, yet say what happened.
func TestLogsHoldNoSecrets(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			h := startGatehouse(t, format)
			h.fullRun(t)
			logs := h.stop(t)
			lines := parseLogLines(t, format, logs)
			checkNoSecrets(t, lines, h.secrets)
			checkEventsLogged(t, lines)
		})
	}
}

// logLine is one parsed log line: its level, message and attributes.
type logLine struct {
	raw   string
	level string
	msg   string
	attrs map[string]string
}

// runHarness is one `gatehouse serve` run and what the test saw of it.
type runHarness struct {
	authURL, proxyURL, cliRedirect string
	password                       string
	cliSecret, jobSecret           string
	secrets                        *secrets
	logs                           *syncbuf.Buffer
	cancel                         context.CancelFunc
	done                           chan error
}

// secrets are the secret values seen during a run, each with what it is.
type secrets struct {
	mu    sync.Mutex
	kinds map[string]string // value -> kind
}

func (s *secrets) add(kind, value string) {
	if value == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kinds[value]; !ok {
		s.kinds[value] = kind
	}
}

// randomSecret is a fresh test-only secret, unique to this run so that
// finding it in the logs can only mean it leaked.
func randomSecret(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const logsafeConfig = `
log: {level: debug, format: %[1]s}
authserver:
  listen: 127.0.0.1:%[2]d
  issuer: %[13]s
  cookie_secrets: [%[5]q]
  storage: {type: sqlite, sqlite: {path: %[6]q}}
  users:
    - {id: alice, password_hash: %[7]q, name: Alice, email: alice@example.com, email_verified: true, groups: [staff]}
  clients:
    - id: gatehouse-proxy
      secret: %[8]q
      redirect_uris: [%[14]s/oauth2/callback]
      scopes: [openid, profile, email, groups]
      post_logout_redirect_uris: [%[14]s/oauth2/signed_out]
      backchannel_logout_uri: %[14]s/oauth2/backchannel_logout
    - id: logsafe-cli
      secret: %[9]q
      token_endpoint_auth_method: client_secret_post
      redirect_uris: [%[12]s]
      post_logout_redirect_uris: [%[12]s]
      scopes: [openid, profile, email]
      access_token_format: jwt
      access_token_audience: [gatehouse-proxy]
    - id: logsafe-job
      secret: %[10]q
      grant_types: [client_credentials]
      scopes: [reports.read]
proxy:
  listen: 127.0.0.1:%[3]d
  public_url: %[14]s
  provider:
    issuer: %[13]s
    client_id: gatehouse-proxy
    client_secret: %[8]q
    scopes: [openid, profile, email, groups]
    # Longer than any token lives: every visit refreshes the session.
    refresh_skew: 2h
  cookie:
    secrets: [%[11]q]
  bearer: {audiences: [gatehouse-proxy]}
  routes:
    - {path: /, upstream: "http://127.0.0.1:%[4]d"}
demo_upstream:
  listen: 127.0.0.1:%[4]d
`

// startGatehouse writes a configuration with fresh secrets and free ports
// and runs `gatehouse serve` on it, in this process, until it answers.
// The authserver and the proxy are each reached through a recorder, as if
// behind a TLS terminator, so that what they send each other (codes,
// tokens, logout tokens) is seen as well as what browsers see.
func startGatehouse(t *testing.T, format string) *runHarness {
	t.Helper()
	dir := t.TempDir()
	authPort, proxyPort, demoPort, cliPort := freePort(t), freePort(t), freePort(t), freePort(t)
	found := &secrets{kinds: map[string]string{}}
	authFront := httptest.NewServer(recorder(t, fmt.Sprintf("http://127.0.0.1:%d", authPort), found))
	t.Cleanup(authFront.Close)
	proxyFront := httptest.NewServer(recorder(t, fmt.Sprintf("http://127.0.0.1:%d", proxyPort), found))
	t.Cleanup(proxyFront.Close)
	h := &runHarness{
		authURL:     authFront.URL,
		proxyURL:    proxyFront.URL,
		cliRedirect: fmt.Sprintf("http://127.0.0.1:%d/callback", cliPort), // nothing listens: the test reads the redirect
		password:    randomSecret("right-password-"),
		cliSecret:   randomSecret("cli-secret-"),
		jobSecret:   randomSecret("job-secret-"),
		secrets:     found,
		logs:        &syncbuf.Buffer{},
		done:        make(chan error, 1),
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(h.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	authCookieSecret, proxyCookieSecret := randomSecret("authserver-cookie-secret-"), randomSecret("proxy-cookie-secret-")
	proxySecret := randomSecret("proxy-client-secret-")
	h.secrets.add("password", h.password)
	h.secrets.add("client secret (gatehouse-proxy)", proxySecret)
	h.secrets.add("client secret (logsafe-cli)", h.cliSecret)
	h.secrets.add("client secret (logsafe-job)", h.jobSecret)
	h.secrets.add("authserver cookie secret", authCookieSecret)
	h.secrets.add("proxy cookie secret", proxyCookieSecret)
	h.secrets.add("password hash", string(hash))

	cfg := fmt.Sprintf(logsafeConfig, format, authPort, proxyPort, demoPort, authCookieSecret,
		filepath.Join(dir, "gatehouse.db"), hash, proxySecret, h.cliSecret, h.jobSecret, proxyCookieSecret, h.cliRedirect, h.authURL, h.proxyURL)
	path := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.done <- run(ctx, []string{"serve", "--config", path}, strings.NewReader(""), io.Discard, h.logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	// A guard against a start that never comes, not a measurement.
	deadline := time.Now().Add(15 * time.Second)
	for _, u := range []string{h.authURL + "/.well-known/openid-configuration", h.proxyURL + "/oauth2/sign_out"} {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadGateway { // the recorder's, until gatehouse listens
					break
				}
				err = errors.New(resp.Status)
			}
			select {
			case err := <-h.done:
				t.Fatalf("gatehouse serve stopped: %v\nlogs:\n%s", err, h.logs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("gatehouse serve does not answer at %s: %v\nlogs:\n%s", u, err, h.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return h
}

// stop shuts gatehouse down and returns its logs.
func (h *runHarness) stop(t *testing.T) string {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Errorf("gatehouse serve: %v", err)
	}
	h.done <- nil // for the cleanup
	return h.logs.String()
}

// recorder forwards to target, keeping the Host, and notes every secret
// that passes.
func recorder(t *testing.T, target string, s *secrets) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport: recordingTransport{s},
		ErrorLog:  log.New(io.Discard, "", 0), // refused connections before gatehouse listens
	}
}

// recordingTransport notes every secret a browser or client sends or
// receives: Authorization headers, cookies both ways, the codes, states and
// tokens in redirect URLs, forms and JSON answers.
type recordingTransport struct {
	secrets *secrets
}

// secretParams are the URL parameters that carry secrets, by name.
var secretParams = map[string]string{
	"code":          "authorization code",
	"state":         "state",
	"req":           "sealed authorization request",
	"id_token_hint": "ID token",
	"csrf_token":    "CSRF token",
	"token":         "token (a form's)",
	"code_verifier": "PKCE verifier",
	"logout_token":  "logout token",
	"password":      "password (typed)",
	"client_secret": "client secret (sent)",
	"access_token":  "access token",
	"refresh_token": "refresh token",
	"id_token":      "ID token",
	"nonce":         "nonce",
}

func (rt recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.secrets.add("Authorization header", req.Header.Get("Authorization"))
	if _, cred, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		rt.secrets.add("Authorization header credentials", cred)
	}
	for _, c := range req.Cookies() {
		rt.noteCookie(c)
	}
	rt.noteURL(req.URL)
	if req.Body != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rt.noteValues(form)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	for _, c := range resp.Cookies() {
		rt.noteCookie(c)
	}
	if loc, err := resp.Location(); err == nil {
		rt.noteURL(loc)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var fields map[string]any
		_ = json.Unmarshal(body, &fields) // not every JSON answer is an object
		values := url.Values{}
		for k, v := range fields {
			if s, ok := v.(string); ok {
				values.Set(k, s)
			}
		}
		rt.noteValues(values)
	}
	return resp, nil
}

func (rt recordingTransport) noteValues(values url.Values) {
	for name, vs := range values {
		if kind, ok := secretParams[name]; ok {
			for _, v := range vs {
				rt.secrets.add(kind, v)
			}
		}
	}
}

func (rt recordingTransport) noteCookie(c *http.Cookie) {
	// Short values are preferences (the language), not secrets.
	if len(c.Value) >= 16 {
		rt.secrets.add("cookie "+c.Name, c.Value)
	}
}

func (rt recordingTransport) noteURL(u *url.URL) { rt.noteValues(u.Query()) }

// scriptedBrowser is a person's browser: cookies, redirects, HTML forms.
type scriptedBrowser struct {
	t      *testing.T
	client *http.Client
	h      *runHarness
}

func (h *runHarness) browser(t *testing.T) *scriptedBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Transport: recordingTransport{h.secrets}}
	// The CLI client's redirect URI has no server: stop there and read it.
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), h.cliRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &scriptedBrowser{t: t, client: client, h: h}
}

type browserPage struct {
	url    *url.URL
	status int
	header http.Header
	body   string
	forms  []htmlform.Form
}

func (b *scriptedBrowser) do(req *http.Request) *browserPage {
	b.t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &browserPage{url: resp.Request.URL, status: resp.StatusCode, header: resp.Header, body: string(body)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		if p.forms, err = htmlform.Parse(p.url, p.body); err != nil {
			b.t.Fatal(err)
		}
		for _, f := range p.forms {
			recordingTransport{b.h.secrets}.noteValues(f.Fields)
		}
	}
	return p
}

func (b *scriptedBrowser) get(rawURL string) *browserPage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// submit sends form f with values set, as if pressed on button (a name
// and value, or none).
func (b *scriptedBrowser) submit(f htmlform.Form, values map[string]string, button ...string) *browserPage {
	b.t.Helper()
	data := url.Values{}
	for k, v := range f.Fields {
		data[k] = slices.Clone(v)
	}
	for k, v := range values {
		data.Set(k, v)
	}
	if len(button) == 2 {
		data.Set(button[0], button[1])
	}
	req, err := http.NewRequest(f.Method, f.Action.String(), strings.NewReader(data.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// has reports whether the page has a form with an input or button named
// field.
func (p *browserPage) has(field string) bool {
	return slices.ContainsFunc(p.forms, func(f htmlform.Form) bool { return f.Fields.Has(field) || f.Buttons[field] != nil })
}

// form returns the page's form with an input or button named field.
func (p *browserPage) form(t *testing.T, field string) htmlform.Form {
	t.Helper()
	for _, f := range p.forms {
		if f.Fields.Has(field) || f.Buttons[field] != nil {
			return f
		}
	}
	t.Fatalf("no form with %q on %s (status %d):\n%s", field, p.url, p.status, p.body)
	return htmlform.Form{}
}

func (p *browserPage) want(t *testing.T, status int, what string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: ended at %s with status %d, want %d:\n%s", what, p.url, p.status, status, p.body)
	}
}

// signIn goes from a page of the proxy through the login (a wrong
// password first, when wrong is set) and consent, back to the page.
func (b *scriptedBrowser) signIn(t *testing.T, wrong bool) {
	t.Helper()
	p := b.get(b.h.proxyURL + "/hello?greeting=1")
	p.want(t, http.StatusOK, "visit before sign-in")
	if wrong {
		bad := randomSecret("wrong-password-")
		b.h.secrets.add("wrong password", bad)
		p = b.submit(p.form(t, "password"), map[string]string{"user_id": "alice", "password": bad})
		p.want(t, http.StatusUnauthorized, "sign-in with a wrong password")
	}
	p = b.submit(p.form(t, "password"), map[string]string{"user_id": "alice", "password": b.h.password})
	if p.has("decision") {
		p = b.submit(p.form(t, "decision"), nil, "decision", "approve")
	}
	p.want(t, http.StatusOK, "sign-in")
	if p.url.Path != "/hello" {
		t.Fatalf("sign-in ended at %s, want the page it started from", p.url)
	}
}

// fullRun drives everything the servers do that handles a secret.
func (h *runHarness) fullRun(t *testing.T) {
	b := h.browser(t)
	b.signIn(t, true)

	// Proxied requests; each also refreshes the session (refresh_skew).
	for _, path := range []string{"/", "/whoami?x=1"} {
		b.get(h.proxyURL+path).want(t, http.StatusOK, "proxied GET "+path)
	}
	req, _ := http.NewRequest(http.MethodGet, h.proxyURL+"/oauth2/userinfo", nil)
	req.Header.Set("Accept", "application/json")
	b.do(req).want(t, http.StatusOK, "proxy userinfo")

	// A client of its own, in the same browser: code with PKCE, then
	// every use of its tokens.
	cli := h.cliConfig()
	verifier := oauth2.GenerateVerifier()
	h.secrets.add("PKCE verifier", verifier)
	nonce := randomSecret("nonce-")
	h.secrets.add("nonce", nonce)
	state := randomSecret("cli-state-")
	p := b.get(cli.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)))
	if p.status == http.StatusOK {
		p = b.submit(p.form(t, "decision"), nil, "decision", "approve")
	}
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("CLI authorization: got %d to %q, want a redirect with a code:\n%s", p.status, p.header.Get("Location"), p.body)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: recordingTransport{h.secrets}})
	tok, err := cli.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	h.noteTokens(tok)
	idToken, _ := tok.Extra("id_token").(string)
	refreshed, err := cli.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	h.noteTokens(refreshed)
	api := &http.Client{Transport: recordingTransport{h.secrets}}
	h.call(t, api, http.MethodGet, h.authURL+"/userinfo", "Bearer "+refreshed.AccessToken, nil, http.StatusOK)
	// The JWT access token is for the proxy too (access_token_audience).
	h.call(t, api, http.MethodGet, h.proxyURL+"/whoami", "Bearer "+refreshed.AccessToken, nil, http.StatusOK)
	h.call(t, api, http.MethodGet, h.proxyURL+"/whoami", "Bearer "+randomSecret("forged-token-"), nil, http.StatusUnauthorized)
	cliAuth := url.Values{"client_id": {"logsafe-cli"}, "client_secret": {h.cliSecret}}
	h.call(t, api, http.MethodPost, h.authURL+"/introspect", "", withForm(cliAuth, "token", refreshed.RefreshToken), http.StatusOK)
	h.call(t, api, http.MethodPost, h.authURL+"/revoke", "", withForm(cliAuth, "token", refreshed.RefreshToken), http.StatusOK)
	// A rotated refresh token used again.
	h.call(t, api, http.MethodPost, h.authURL+"/token", "",
		withForm(cliAuth, "grant_type", "refresh_token", "refresh_token", tok.RefreshToken), http.StatusBadRequest)

	// A service client for itself.
	job := clientcredentials.Config{ClientID: "logsafe-job", ClientSecret: h.jobSecret, TokenURL: h.authURL + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	jobTok, err := job.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	h.noteTokens(jobTok)
	jobAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("logsafe-job:"+h.jobSecret))
	h.call(t, api, http.MethodPost, h.authURL+"/introspect", jobAuth, url.Values{"token": {jobTok.AccessToken}}, http.StatusOK)
	wrongSecret := randomSecret("wrong-client-secret-")
	h.secrets.add("wrong client secret", wrongSecret)
	h.call(t, api, http.MethodPost, h.authURL+"/token", "Basic "+base64.StdEncoding.EncodeToString([]byte("logsafe-job:"+wrongSecret)),
		url.Values{"grant_type": {"client_credentials"}}, http.StatusUnauthorized)
	h.call(t, api, http.MethodPost, h.authURL+"/revoke", jobAuth, url.Values{"token": {jobTok.AccessToken}}, http.StatusOK)

	// Sign-out at the proxy: its form, then the provider's logout with
	// the ID token as hint, which tells the proxy back-channel too.
	p = b.get(h.proxyURL + "/oauth2/sign_out")
	p = b.submit(p.form(t, "token"), nil)
	p.want(t, http.StatusOK, "sign-out at the proxy")
	if p.url.Path != "/oauth2/signed_out" {
		t.Fatalf("sign-out ended at %s, want /oauth2/signed_out", p.url)
	}

	// Signed in again, the CLI's logout at the authserver: its hint is of
	// the earlier login, so the person confirms; the proxy, which got a code
	// in this login, hears of it back-channel.
	b.signIn(t, false)
	state = randomSecret("logout-state-")
	logout := h.authURL + "/logout?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {h.cliRedirect}, "state": {state}}.Encode()
	p = b.get(logout)
	p.want(t, http.StatusOK, "RP-initiated logout confirmation")
	p = b.submit(p.form(t, "csrf_token"), nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), h.cliRedirect) {
		t.Fatalf("RP-initiated logout: got %d to %q, want a redirect to %s:\n%s", p.status, p.header.Get("Location"), h.cliRedirect, p.body)
	}
	// The proxy session ended with it.
	req, _ = http.NewRequest(http.MethodGet, h.proxyURL+"/", nil)
	req.Header.Set("Accept", "application/json")
	b.do(req).want(t, http.StatusUnauthorized, "proxy after the back-channel logout")
}

func (h *runHarness) cliConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "logsafe-cli",
		ClientSecret: h.cliSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: h.authURL + "/authorize", TokenURL: h.authURL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  h.cliRedirect,
		Scopes:       []string{"openid", "profile", "email"},
	}
}

func (h *runHarness) noteTokens(tok *oauth2.Token) {
	h.secrets.add("access token", tok.AccessToken)
	h.secrets.add("refresh token", tok.RefreshToken)
	if id, ok := tok.Extra("id_token").(string); ok {
		h.secrets.add("ID token", id)
	}
}

func withForm(base url.Values, kv ...string) url.Values {
	v := url.Values{}
	for k, vs := range base {
		v[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// call sends an API request (a form POST when form is not nil) and checks
// its status.
func (h *runHarness) call(t *testing.T, c *http.Client, method, u, authorization string, form url.Values, want int) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d, want %d:\n%s", method, u, resp.StatusCode, want, b)
	}
}

var textLine = regexp.MustCompile(`^time=\S+ level=(\S+) msg=("(?:[^"\\]|\\.)*"|\S+)(.*)$`)
var textAttr = regexp.MustCompile(`([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)`)

// parseLogLines splits the logs into lines, failing on any line the format
// does not produce.
func parseLogLines(t *testing.T, format, logs string) []logLine {
	t.Helper()
	var lines []logLine
	for _, raw := range strings.Split(strings.TrimSpace(logs), "\n") {
		l := logLine{raw: raw, attrs: map[string]string{}}
		if format == "json" {
			var v map[string]any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				t.Fatalf("log line is not JSON: %v\n%s", err, raw)
			}
			for k, a := range v {
				l.attrs[k] = fmt.Sprint(a)
			}
			l.level, l.msg = l.attrs["level"], l.attrs["msg"]
		} else {
			m := textLine.FindStringSubmatch(raw)
			if m == nil {
				t.Fatalf("log line is not slog text: %s", raw)
			}
			l.level, l.msg = m[1], unquote(m[2])
			for _, a := range textAttr.FindAllStringSubmatch(m[3], -1) {
				l.attrs[a[1]] = unquote(a[2])
			}
		}
		lines = append(lines, l)
	}
	return lines
}

func unquote(s string) string {
	var u string
	if err := json.Unmarshal([]byte(s), &u); err == nil {
		return u
	}
	return s
}

// windowLen is the length of a piece of a random secret that counts as
// leaking it: 16 base64 characters are 96 bits.
const windowLen = 16

// checkNoSecrets fails for every secret, or long enough piece of one, that
// appears in a log line, as it is or escaped for a URL or JSON.
func checkNoSecrets(t *testing.T, lines []logLine, s *secrets) {
	t.Helper()
	// Every windowLen-piece of the logs, to find pieces of secrets fast.
	pieces := map[string]int{}
	for i, l := range lines {
		for j := 0; j+windowLen <= len(l.raw); j++ {
			if _, ok := pieces[l.raw[j:j+windowLen]]; !ok {
				pieces[l.raw[j:j+windowLen]] = i
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.kinds) < 30 {
		t.Errorf("only %d secrets collected; the run did not do what it should", len(s.kinds))
	}
	t.Logf("checked %d secrets against %d log lines", len(s.kinds), len(lines))
	for value, kind := range s.kinds {
		forms := []string{value, url.QueryEscape(value), url.PathEscape(value)}
		if j, err := json.Marshal(value); err == nil {
			forms = append(forms, string(j[1:len(j)-1]))
		}
		leaked := false
		for _, f := range forms {
			for _, l := range lines {
				if strings.Contains(l.raw, f) {
					t.Errorf("the logs hold a %s (%.12s…) in:\n%s", kind, value, l.raw)
					leaked = true
					break
				}
			}
			if leaked {
				break
			}
		}
		if leaked || strings.Contains(kind, "password") && kind != "password hash" {
			continue // typed text: only whole counts
		}
		// A JWT's header and claims are not secret; its signature is.
		random := value
		if parts := strings.Split(value, "."); len(parts) == 3 {
			random = parts[2]
		}
		for j := 0; j+windowLen <= len(random); j++ {
			if i, ok := pieces[random[j:j+windowLen]]; ok {
				t.Errorf("the logs hold part of a %s (%q) in:\n%s", kind, random[j:j+windowLen], lines[i].raw)
				break
			}
		}
	}
}

// checkEventsLogged checks the logs say what happened: auth events at
// info, the OAuth steps at debug, with the agreed attributes.
func checkEventsLogged(t *testing.T, lines []logLine) {
	t.Helper()
	for _, want := range []struct {
		level, msg string
		attrs      map[string]string
	}{
		{"INFO", "login failed", map[string]string{"user": "alice", "reason": "wrong password", "client_id": "gatehouse-proxy"}},
		{"INFO", "login succeeded", map[string]string{"user": "alice", "client_id": "gatehouse-proxy"}},
		{"INFO", "consent granted", map[string]string{"user": "alice", "client_id": "logsafe-cli"}},
		{"INFO", "tokens issued", map[string]string{"grant_type": "authorization_code", "client_id": "gatehouse-proxy", "user": "alice"}},
		{"INFO", "tokens issued", map[string]string{"grant_type": "refresh_token", "client_id": "gatehouse-proxy"}},
		{"INFO", "tokens issued", map[string]string{"grant_type": "client_credentials", "client_id": "logsafe-job"}},
		{"INFO", "refresh token revoked with every token of its grant", map[string]string{"client_id": "logsafe-cli", "user": "alice"}},
		{"INFO", "access token revoked", map[string]string{"client_id": "logsafe-job"}},
		{"WARN", "client authentication failed", map[string]string{"client_id": "logsafe-job"}},
		{"INFO", "signed out", map[string]string{"server": "authserver", "user": "alice"}},
		{"INFO", "signed out", map[string]string{"server": "proxy", "user": "alice"}},
		{"INFO", "signed in", map[string]string{"server": "proxy", "user": "alice"}},
		{"INFO", "session refreshed", map[string]string{"server": "proxy", "user": "alice"}},
		{"INFO", "back-channel logout delivered", map[string]string{"client_id": "gatehouse-proxy"}},
		{"INFO", "signed out by the provider", map[string]string{"server": "proxy", "user": "alice"}},
		{"DEBUG", "authorization request accepted", map[string]string{"client_id": "gatehouse-proxy"}},
		{"DEBUG", "authorization code issued", map[string]string{"client_id": "gatehouse-proxy", "user": "alice"}},
		{"DEBUG", "authorization code redeemed", map[string]string{"client_id": "logsafe-cli", "user": "alice"}},
		{"DEBUG", "sign-in started", map[string]string{"server": "proxy"}},
		{"DEBUG", "code exchanged", map[string]string{"server": "proxy"}},
		{"DEBUG", "ID token verified", map[string]string{"server": "proxy", "user": "alice"}},
		{"DEBUG", "session stored", map[string]string{"server": "proxy", "user": "alice"}},
		{"DEBUG", "bearer token accepted", map[string]string{"server": "proxy", "user": "alice"}},
	} {
		found := slices.ContainsFunc(lines, func(l logLine) bool {
			if l.level != want.level || l.msg != want.msg {
				return false
			}
			for k, v := range want.attrs {
				if l.attrs[k] != v {
					return false
				}
			}
			return true
		})
		if !found {
			var same []string
			for _, l := range lines {
				if l.msg == want.msg {
					same = append(same, l.raw)
				}
			}
			t.Errorf("no %s line %q with %v; lines with that message:\n%s", want.level, want.msg, want.attrs, strings.Join(same, "\n"))
		}
	}
}
