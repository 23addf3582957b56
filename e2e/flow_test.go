// Package e2e runs gatehouse's servers for real — authserver, proxy and an
// upstream app on loopback listeners, wired from a YAML file exactly as
// `gatehouse serve` wires them — and walks them as a person's browser would.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/internal/backend"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demoapp"
	"github.com/gatehouse/gatehouse/proxy"
)

// Test-only credentials, matching the users and clients in stackYAML.
const (
	testUser     = "alice"
	testPassword = "alice-test-password"
	// bcrypt of testPassword at cost 4, to keep tests fast.
	testPasswordHash = "$2a$04$XsaPjETUFD14JAK2PhEm4u2jEZ74cH8NdQnvIrOV6AzT8iXxckv1m"
)

// stackYAML is a complete configuration with placeholders for the loopback
// addresses chosen at run time.
const stackYAML = `log: {level: warn}
authserver:
  issuer: %[1]s
  cookie_secrets: ["e2e test authserver cookie secret, test only"]
  storage: {type: memory}
  users:
    - id: alice
      password_hash: "%[4]s"
      name: Alice Example
      email: alice@example.com
      email_verified: true
      groups: [admins, staff]
  clients:
    - id: proxy
      name: Alice's app
      secret: e2e-proxy-secret
      redirect_uris: ["%[2]s/oauth2/callback"]
      post_logout_redirect_uris: ["%[2]s/oauth2/signed_out"]
      backchannel_logout_uri: "%[2]s/oauth2/backchannel_logout"
      scopes: [openid, profile, email, groups]
proxy:
  public_url: %[2]s
  provider: {issuer: %[1]s, client_id: proxy, client_secret: e2e-proxy-secret, scopes: [openid, profile, email, groups]}
  cookie: {secrets: ["e2e test proxy cookie secret, test only!!"]}
  routes: [{path: /, upstream: "%[3]s"}]
`

// stack is gatehouse running on loopback: its servers' base URLs and the
// configuration they were built from.
type stack struct {
	authURL, proxyURL, appURL string
	cfg                       *config.Config
	logger                    *slog.Logger
}

// startStack starts authserver, proxy and the demo app from stackYAML, the
// way cmd/gatehouse does: config.Load, open the stores, then each
// package's New. proxyExtra is appended to the proxy section.
func startStack(t *testing.T, proxyExtra string) *stack {
	t.Helper()
	return startStackFrom(t, stackYAML, proxyExtra)
}

// startStackFrom is startStack with a template of stackYAML's form.
func startStackFrom(t *testing.T, template, proxyExtra string) *stack {
	t.Helper()
	authSrv := httptest.NewUnstartedServer(nil)
	proxySrv := httptest.NewUnstartedServer(nil)
	appSrv := httptest.NewServer(demoapp.Handler())
	t.Cleanup(appSrv.Close)
	s := &stack{
		authURL:  "http://" + authSrv.Listener.Addr().String(),
		proxyURL: "http://" + proxySrv.Listener.Addr().String(),
		appURL:   appSrv.URL,
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yaml := fmt.Sprintf(template, s.authURL, s.proxyURL, s.appURL, testPasswordHash) + proxyExtra
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = c
	s.logger = slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		s.logger = c.Logger(os.Stderr)
	}
	store, err := backend.OpenStore(t.Context(), c, s.logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	acfg, err := c.AuthServer(store, s.logger)
	if err != nil {
		t.Fatal(err)
	}
	as, err := authserver.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	authSrv.Config.Handler = as
	authSrv.Start()
	t.Cleanup(authSrv.Close)
	proxySrv.Config.Handler = s.newProxy(t)
	proxySrv.Start()
	t.Cleanup(proxySrv.Close)
	return s
}

// newProxy builds one more proxy replica from the stack's configuration,
// with its own connection to the session store.
func (s *stack) newProxy(t *testing.T) *proxy.Proxy {
	t.Helper()
	sessions, err := backend.OpenSessions(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	pcfg, err := s.cfg.Proxy(sessions, s.logger)
	if err != nil {
		t.Fatal(err)
	}
	px, err := proxy.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	return px
}

// signIn walks from a protected page through login and consent and returns
// the page the browser ends on.
func signIn(t *testing.T, b *browser, startURL, user, password string) *page {
	t.Helper()
	p := b.get(startURL)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: ended at %s with %d, want the login page:\n%s", startURL, p.URL, p.Status, p.Body)
	}
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": user, "password": password}, "", "")
	if _, ok := findForm(p, "decision"); !ok {
		return p // consent remembered
	}
	return b.submit(p.formWith(t, "decision"), nil, "decision", "approve")
}

func findForm(p *page, field string) (form, bool) {
	for _, f := range p.Forms {
		if _, ok := f.Buttons[field]; ok {
			return f, true
		}
	}
	return form{}, false
}

// identity asks the demo app, through the proxy, which identity headers it
// received.
func identity(t *testing.T, b *browser, proxyURL string, spoof map[string]string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, proxyURL+"/whoami", nil)
	req.Header.Set("Accept", "application/json")
	for k, v := range spoof {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /whoami via proxy: got %d, want 200:\n%s", resp.StatusCode, body)
	}
	var v struct {
		Identity map[string]string `json:"identity"`
		Headers  map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("demo app answer: %v\n%s", err, body)
	}
	// Both servers share the host 127.0.0.1, so the browser sends the
	// authserver's cookies to the proxy too; none may reach the app.
	if cookie := v.Headers["Cookie"]; strings.Contains(cookie, "gatehouse") {
		t.Errorf("upstream received gatehouse cookies: %q", cookie)
	}
	return v.Identity
}

func TestWholeFlow(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)

	p := signIn(t, b, s.proxyURL+"/dashboard?tab=1", testUser, testPassword)
	if p.Status != http.StatusOK || p.URL.String() != s.proxyURL+"/dashboard?tab=1" {
		t.Fatalf("after sign-in: at %s with %d, want %s/dashboard?tab=1 with 200:\n%s", p.URL, p.Status, s.proxyURL, p.Body)
	}
	if !strings.Contains(p.Body, "Hello, alice!") || !strings.Contains(p.Body, "alice@example.com") {
		t.Errorf("the demo app page does not show who signed in:\n%s", p.Body)
	}

	want := map[string]string{
		"X-Forwarded-User":               "alice",
		"X-Forwarded-Email":              "alice@example.com",
		"X-Forwarded-Preferred-Username": "alice",
		"X-Forwarded-Groups":             "admins,staff",
	}
	spoofed := map[string]string{"X-Forwarded-User": "mallory", "X-Forwarded-Email": "mallory@evil.example", "X-Forwarded-Groups": "root"}
	for name, spoof := range map[string]map[string]string{"plain": nil, "spoofed headers": spoofed} {
		got := identity(t, b, s.proxyURL, spoof)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: upstream got %s=%q, want %q", name, k, got[k], v)
			}
		}
	}

	// Signing out, confirmed on the proxy's page, ends the proxy session
	// and, through the authserver's end_session_endpoint, its login
	// session: the next page needs a sign-in with a password.
	out := b.get(s.proxyURL + "/oauth2/sign_out")
	out = b.submit(out.formWith(t, "token"), nil, "", "")
	if out.Status != http.StatusOK || !strings.Contains(out.Body, "You are signed out") {
		t.Fatalf("after confirming sign-out: %d at %s, want the signed-out page:\n%s", out.Status, out.URL, out.Body)
	}
	noFollow := *b.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest(http.MethodGet, s.proxyURL+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.authURL+"/authorize?") {
		t.Errorf("after sign-out: got %d to %q, want 302 to the authorization endpoint", resp.StatusCode, loc)
	}
	b.get(s.proxyURL+"/").formWith(t, "password")
}

func TestWrongPasswordShowsLoginAgain(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)
	p := b.get(s.proxyURL + "/")
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": "wrong"}, "", "")
	if p.Status != http.StatusUnauthorized && p.Status != http.StatusOK {
		t.Fatalf("wrong password: got status %d", p.Status)
	}
	if _, ok := findForm(p, "decision"); ok {
		t.Fatal("a wrong password reached the consent page")
	}
	p.formWith(t, "password") // the login form again, so the person can retry
	if !strings.Contains(strings.ToLower(p.Body), "incorrect") && !strings.Contains(strings.ToLower(p.Body), "invalid") {
		t.Errorf("the login page does not say the credentials were wrong:\n%s", p.Body)
	}
}

func TestDenyShowsAccessDenied(t *testing.T) {
	s := startStack(t, "")
	b := newBrowser(t)
	p := b.get(s.proxyURL + "/")
	p = b.submit(p.formWith(t, "password"), map[string]string{"user_id": testUser, "password": testPassword}, "", "")
	p = b.submit(p.formWith(t, "decision"), nil, "decision", "deny")
	if p.Status != http.StatusForbidden || !strings.Contains(p.URL.String(), s.proxyURL+"/oauth2/callback") {
		t.Fatalf("deny: ended at %s with %d, want the proxy's callback page with 403:\n%s", p.URL, p.Status, p.Body)
	}
	if got := p.URL.Query().Get("error"); got != "access_denied" {
		t.Errorf("deny: callback error=%q, want access_denied", got)
	}
	if _, ok := findForm(p, "decision"); ok || strings.Contains(p.Body, "Hello,") {
		t.Error("a denied sign-in reached the app")
	}
}

func TestAPIRequestWithoutSessionGets401(t *testing.T) {
	s := startStack(t, "")
	req, _ := http.NewRequest(http.MethodGet, s.proxyURL+"/api/items", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("got %d, want 401 for an API request without a session", resp.StatusCode)
	}
}
