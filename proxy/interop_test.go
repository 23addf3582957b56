package proxy

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
)

// TestInteropZitadelOP runs the proxy in front of an OpenID Provider this
// project did not write: the op package of github.com/zitadel/oidc, as its
// example server wires it (in-memory storage, username/password login page,
// RS256 ID tokens, userinfo for profile claims). The browser fills in the
// provider's login form like a person would.
func TestInteropZitadelOP(t *testing.T) {
	var opHandler, proxyHandler http.Handler
	opSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { opHandler.ServeHTTP(w, r) }))
	defer opSrv.Close()
	proxySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxyHandler.ServeHTTP(w, r) }))
	defer proxySrv.Close()
	up := newTestUpstream(t)

	issuer := opSrv.URL
	client := storage.WebClient("gatehouse-proxy", "interop-secret", proxySrv.URL+CallbackPath)
	users := storage.NewUserStore(issuer)
	opHandler = exampleop.SetupServer(issuer,
		storage.NewStorageWithClients(users, map[string]*storage.Client{client.GetID(): client}),
		nil, false)

	pub, _ := url.Parse(proxySrv.URL)
	p, err := New(Config{
		PublicURL: pub,
		Provider:  ProviderConfig{IssuerURL: issuer, ClientID: "gatehouse-proxy", ClientSecret: "interop-secret"},
		Cookie:    CookieConfig{Secrets: [][]byte{testSecret}},
		Routes:    []Route{{Path: "/", Upstream: up.srv.URL}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	proxyHandler = p

	b := newBrowser(t)
	// The proxy sends the browser to the provider, which shows its login page.
	loginPage := b.follow(proxySrv.URL + "/hello?lang=en")
	if loginPage.StatusCode != http.StatusOK || !strings.HasPrefix(loginPage.Request.URL.String(), issuer+"/login/username") {
		t.Fatalf("expected the provider's login page, got %d at %s:\n%s", loginPage.StatusCode, loginPage.Request.URL, loginPage.body)
	}
	user := users.GetUserByID("id1")

	// A wrong password keeps the person on the login page.
	again := submitLogin(t, b, loginPage, user.Username, "wrong")
	if again.StatusCode != http.StatusOK || !strings.Contains(again.body, "username or password wrong") {
		t.Fatalf("wrong password: got %d, want the login page with an error:\n%s", again.StatusCode, again.body)
	}
	done := submitLogin(t, b, again, user.Username, user.Password)
	if done.StatusCode != http.StatusFound {
		t.Fatalf("login form: got %d, want a redirect:\n%s", done.StatusCode, done.body)
	}
	next, _ := done.Request.URL.Parse(done.Header.Get("Location"))
	page := b.follow(next.String())
	if page.StatusCode != http.StatusOK {
		t.Fatalf("after login: got %d at %s:\n%s", page.StatusCode, page.Request.URL, page.body)
	}
	if got := page.Request.URL.String(); got != proxySrv.URL+"/hello?lang=en" {
		t.Errorf("ended at %s, want the page first asked for", got)
	}

	got := up.last(t)
	for h, want := range map[string]string{
		headerUser:              user.ID,
		headerEmail:             user.Email,
		headerPreferredUsername: user.Username,
	} {
		if v := got.Header.Values(h); len(v) != 1 || v[0] != want {
			t.Errorf("upstream %s: got %q, want [%q]", h, v, want)
		}
	}
	if v := got.Header.Get("Cookie"); v != "" {
		t.Errorf("the proxy's cookies reached the upstream: %q", v)
	}

	if r := b.signOut(proxySrv.URL, ""); r.StatusCode != http.StatusFound {
		t.Fatalf("sign-out: got %d, want 302", r.StatusCode)
	}
	if r := b.do(http.MethodGet, proxySrv.URL+"/hello", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out: got %d, want 401", r.StatusCode)
	}
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenID   = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]*)">`)
)

// submitLogin fills in and posts the example provider's login form.
func submitLogin(t *testing.T, b *browser, page *response, username, password string) *response {
	t.Helper()
	action, id := formAction.FindStringSubmatch(page.body), hiddenID.FindStringSubmatch(page.body)
	if action == nil || id == nil {
		t.Fatalf("no login form with a hidden id at %s:\n%s", page.Request.URL, page.body)
	}
	target, err := page.Request.URL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"id": {html.UnescapeString(id[1])}, "username": {username}, "password": {password}}
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Response: resp, body: string(body)}
}
