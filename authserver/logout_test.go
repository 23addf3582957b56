package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// The relying party "rp" of the logout tests: registered post-logout
// redirect URIs and a back-channel logout URI served by a real receiver.
const (
	rpSecret         = "rp secret"
	rpRedirect       = "https://rp.example/cb"
	rpSignedOut      = "https://rp.example/signed_out"
	rpSignedOutWithQ = "https://rp.example/bye?lang=en"
)

// logoutReceiver is a client's back-channel logout endpoint: it verifies
// every logout token against the server's published keys, as a relying
// party would, and keeps the claims.
type logoutReceiver struct {
	t      testing.TB
	ts     *httptest.Server
	issuer string
	status int // answer to give; 200 when zero

	mu     sync.Mutex
	tokens []map[string]any
}

func newLogoutReceiver(t testing.TB) *logoutReceiver {
	lr := &logoutReceiver{t: t}
	lr.ts = httptest.NewServer(http.HandlerFunc(lr.serve))
	t.Cleanup(lr.ts.Close)
	return lr
}

func (lr *logoutReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		lr.t.Errorf("back-channel request: %s with Content-Type %q, parse error %v", r.Method, r.Header.Get("Content-Type"), err)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	raw := r.PostForm.Get("logout_token")
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		lr.t.Errorf("logout token does not parse: %v", err)
		return
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; typ != "logout+jwt" {
		lr.t.Errorf("logout token typ = %v, want logout+jwt (§2.4)", typ)
	}
	ctx := oidc.ClientContext(r.Context(), http.DefaultClient)
	payload, err := oidc.NewRemoteKeySet(ctx, lr.issuer+PathKeys).VerifySignature(ctx, raw)
	if err != nil {
		lr.t.Errorf("logout token signature does not verify against the JWKS: %v", err)
		return
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		lr.t.Errorf("logout token claims: %v", err)
		return
	}
	lr.mu.Lock()
	lr.tokens = append(lr.tokens, claims)
	lr.mu.Unlock()
	if lr.status != 0 {
		http.Error(w, `{"error":"invalid_request"}`, lr.status)
	}
}

// received returns the claims of the logout tokens received so far.
func (lr *logoutReceiver) received() []map[string]any {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return append([]map[string]any(nil), lr.tokens...)
}

// newLogoutHarness is a harness whose directory has "rp", notified at
// receiver.
func newLogoutHarness(t testing.TB) (*harness, *logoutReceiver) {
	t.Helper()
	lr := newLogoutReceiver(t)
	rp := directory.Client{
		ID: "rp", Name: "Relying Party", Secret: rpSecret,
		RedirectURIs:           []string{rpRedirect},
		Scopes:                 []string{"openid", "profile"},
		AuthMethod:             directory.AuthClientSecretBasic,
		GrantTypes:             []string{grantAuthorizationCode, grantRefreshToken},
		RequirePKCE:            true,
		PostLogoutRedirectURIs: []string{rpSignedOut, rpSignedOutWithQ},
		BackchannelLogoutURI:   lr.ts.URL + "/backchannel",
	}
	h := newHarness(t, func(c *Config) { c.Directory = testDirectory(t, rp) })
	lr.issuer = h.ts.URL
	return h, lr
}

// signInRP signs alice in at "rp" with b and returns the ID token.
func (b *browser) signInRP() string {
	b.t.Helper()
	verifier, challenge := pkce("rp")
	cb := b.signIn(url.Values{
		"response_type": {"code"}, "client_id": {"rp"}, "redirect_uri": {rpRedirect}, "scope": {"openid profile"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}, "alice", alicePassword)
	r := b.h.tokenCall(url.Values{
		"grant_type": {grantAuthorizationCode}, "code": {cb.Get("code")}, "redirect_uri": {rpRedirect}, "code_verifier": {verifier},
	}, "rp", rpSecret)
	if r.status != http.StatusOK {
		b.t.Fatalf("token exchange: status %d, body %s", r.status, r.body)
	}
	return str(r.json(b.t)["id_token"])
}

// signedIn reports whether b's login session is live, by asking "rp" for a
// code with prompt=none.
func (b *browser) signedIn() bool {
	b.t.Helper()
	_, challenge := pkce("probe")
	q := callback(b.t, b.authorize(url.Values{
		"response_type": {"code"}, "client_id": {"rp"}, "redirect_uri": {rpRedirect}, "scope": {"openid"},
		"prompt": {"none"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}), rpRedirect)
	return q.Get("code") != ""
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// unsignedToken is an alg "none" JWT with claims.
func unsignedToken(claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

func TestEndSession(t *testing.T) {
	tests := []struct {
		name   string
		before func(h *harness) // runs after signing in
		// query builds the request from this browser's ID token and one of
		// another login session of the same person.
		query        func(hint, otherHint string) url.Values
		wantStatus   int
		wantLocation string // with wantStatus 303
		wantBody     string // a substring of the page
		wantEnded    bool
		wantNotified bool
	}{
		{
			name: "valid hint ends the session and redirects with state",
			query: func(hint, _ string) url.Values {
				return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpSignedOut}, "state": {"s 1"}}
			},
			wantStatus: http.StatusSeeOther, wantLocation: rpSignedOut + "?state=s+1", wantEnded: true, wantNotified: true,
		},
		{
			name:   "expired hint is accepted",
			before: func(h *harness) { h.clk.Advance(2 * h.srv.cfg.IDTokenTTL) },
			query: func(hint, _ string) url.Values {
				return url.Values{"id_token_hint": {hint}, "client_id": {"rp"}, "post_logout_redirect_uri": {rpSignedOutWithQ}, "state": {"xyz"}}
			},
			wantStatus: http.StatusSeeOther, wantLocation: "https://rp.example/bye?lang=en&state=xyz", wantEnded: true, wantNotified: true,
		},
		{
			name:       "valid hint without redirect shows the signed-out page",
			query:      func(hint, _ string) url.Values { return url.Values{"id_token_hint": {hint}, "ui_locales": {"de fr"}} },
			wantStatus: http.StatusOK, wantBody: "You are signed out", wantEnded: true, wantNotified: true,
		},
		{
			name: "hint of another login session asks to confirm",
			query: func(_, other string) url.Values {
				return url.Values{"id_token_hint": {other}, "post_logout_redirect_uri": {rpSignedOut}}
			},
			wantStatus: http.StatusOK, wantBody: "Relying Party asks to sign you out",
		},
		{
			name: "no hint asks to confirm",
			query: func(string, string) url.Values {
				return url.Values{"client_id": {"rp"}, "post_logout_redirect_uri": {rpSignedOut}}
			},
			wantStatus: http.StatusOK, wantBody: "Sign out only if you meant to",
		},
		{
			name:       "hint for another client",
			query:      func(hint, _ string) url.Values { return url.Values{"id_token_hint": {hint}, "client_id": {"web"}} },
			wantStatus: http.StatusBadRequest, wantBody: "The id_token_hint was issued to client rp, but the request&#39;s client_id is web.",
		},
		{
			name: "forged hint",
			query: func(hint, _ string) url.Values {
				parts := strings.Split(hint, ".")
				c := claimsOf(t, hint)
				c["sub"] = "bob"
				payload, _ := json.Marshal(c)
				return url.Values{"id_token_hint": {parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]}}
			},
			wantStatus: http.StatusBadRequest, wantBody: "is not an ID token this service issued",
		},
		{
			name: "unsigned hint (alg none)",
			query: func(hint, _ string) url.Values {
				return url.Values{"id_token_hint": {unsignedToken(claimsOf(t, hint))}}
			},
			wantStatus: http.StatusBadRequest, wantBody: "is not an ID token this service issued",
		},
		{
			name: "unregistered post_logout_redirect_uri",
			query: func(hint, _ string) url.Values {
				return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}
			},
			wantStatus: http.StatusBadRequest,
			wantBody:   "post_logout_redirect_uri https://evil.example/ is not registered for client rp; registered: " + rpSignedOut + ", " + rpSignedOutWithQ + ".",
		},
		{
			name: "post_logout_redirect_uri of a client without any",
			query: func(string, string) url.Values {
				return url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {webRedirect}}
			},
			wantStatus: http.StatusBadRequest, wantBody: "is not registered for client web; registered: none.",
		},
		{
			name:       "post_logout_redirect_uri without a client",
			query:      func(string, string) url.Values { return url.Values{"post_logout_redirect_uri": {rpSignedOut}} },
			wantStatus: http.StatusBadRequest, wantBody: "without client_id or id_token_hint",
		},
		{
			name:       "unknown client_id",
			query:      func(string, string) url.Values { return url.Values{"client_id": {"nobody"}} },
			wantStatus: http.StatusBadRequest, wantBody: "The application &#34;nobody&#34; is not registered here",
		},
		{
			name:       "repeated parameter",
			query:      func(hint, _ string) url.Values { return url.Values{"id_token_hint": {hint}, "state": {"a", "b"}} },
			wantStatus: http.StatusBadRequest, wantBody: "gives state more than once",
		},
		{
			name: "overlong state",
			query: func(hint, _ string) url.Values {
				return url.Values{"id_token_hint": {hint}, "state": {strings.Repeat("s", maxStateLen+1)}}
			},
			wantStatus: http.StatusBadRequest, wantBody: "state is longer than 2048 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, lr := newLogoutHarness(t)
			ob := h.browser()
			other := ob.signInRP()
			// Another second, another login session (sid).
			h.clk.Advance(time.Second)
			b := h.browser()
			hint := b.signInRP()
			if tt.before != nil {
				tt.before(h)
			}
			r := b.get(PathEndSession + "?" + tt.query(hint, other).Encode())
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantLocation != "" {
				if got := r.header.Get("Location"); got != tt.wantLocation {
					t.Errorf("Location %q, want %q", got, tt.wantLocation)
				}
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("page lacks %q:\n%s", tt.wantBody, r.body)
			}
			if ended := !b.signedIn(); ended != tt.wantEnded {
				t.Errorf("session ended: %v, want %v", ended, tt.wantEnded)
			}
			if !ob.signedIn() {
				t.Error("the other login session was ended too")
			}
			got := lr.received()
			if tt.wantNotified != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("back-channel logout tokens: %v, want notified %v", got, tt.wantNotified)
			}
			if tt.wantNotified && got[0]["sid"] != claimsOf(t, hint)["sid"] {
				t.Errorf("logout token sid %v, want the ID token's %v", got[0]["sid"], claimsOf(t, hint)["sid"])
			}
		})
	}
}

// TestLogoutToken checks every claim of the logout token a client receives
// (Back-Channel Logout 1.0 §2.4) against the ID token of the session.
func TestLogoutToken(t *testing.T) {
	h, lr := newLogoutHarness(t)
	b := h.browser()
	hint := b.signInRP()
	idClaims := claimsOf(t, hint)
	if sid, _ := idClaims["sid"].(string); len(sid) < 22 {
		t.Fatalf("ID token sid = %v, want a session id", idClaims["sid"])
	}
	now := h.clk.Now().Unix()
	if r := b.get(PathEndSession + "?" + url.Values{"id_token_hint": {hint}}.Encode()); r.status != http.StatusOK {
		t.Fatalf("logout: status %d; body %s", r.status, r.body)
	}
	got := lr.received()
	if len(got) != 1 {
		t.Fatalf("received %d logout tokens, want 1", len(got))
	}
	c := got[0]
	for name, want := range map[string]any{
		"iss": h.ts.URL, "aud": "rp", "sub": "alice", "sid": idClaims["sid"],
		"iat": float64(now), "exp": float64(now + int64(logoutTokenTTL/time.Second)),
	} {
		if c[name] != want {
			t.Errorf("%s = %v, want %v", name, c[name], want)
		}
	}
	if jti, _ := c["jti"].(string); len(jti) < 22 {
		t.Errorf("jti = %v, want a random identifier", c["jti"])
	}
	events, _ := c["events"].(map[string]any)
	if ev, ok := events[backchannelLogoutEvent].(map[string]any); !ok || len(ev) != 0 || len(events) != 1 {
		t.Errorf("events = %v, want exactly {%q: {}}", c["events"], backchannelLogoutEvent)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("logout token has a nonce, which §2.4 forbids")
	}
}

// TestLogoutConfirmation submits the confirmation form as it is and with
// each thing a forger would get wrong.
func TestLogoutConfirmation(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(form url.Values, req *http.Request)
		wantStatus int
		wantEnded  bool
	}{
		{"confirmed", func(url.Values, *http.Request) {}, http.StatusSeeOther, true},
		{"same-origin headers", func(_ url.Values, r *http.Request) {
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			r.Header.Set("Origin", strings.TrimSuffix(r.URL.String(), PathEndSession))
		}, http.StatusSeeOther, true},
		{"wrong CSRF token", func(f url.Values, _ *http.Request) { f.Set("csrf_token", "forged") }, http.StatusForbidden, false},
		{"empty CSRF token", func(f url.Values, _ *http.Request) { f.Set("csrf_token", "") }, http.StatusForbidden, false},
		{"foreign Origin", func(_ url.Values, r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, http.StatusForbidden, false},
		{"cross-site fetch", func(_ url.Values, r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, lr := newLogoutHarness(t)
			b := h.browser()
			b.signInRP()
			page := b.get(PathEndSession + "?" + url.Values{"client_id": {"rp"}, "post_logout_redirect_uri": {rpSignedOut}, "state": {"st"}}.Encode())
			form := url.Values{}
			for _, m := range hiddenInput.FindAllStringSubmatch(page.body, -1) {
				form.Set(m[1], html.UnescapeString(m[2]))
			}
			if form.Get("csrf_token") == "" || form.Get("post_logout_redirect_uri") != rpSignedOut {
				t.Fatalf("confirmation form fields %v; page: %s", form, page.body)
			}
			req, err := http.NewRequest(http.MethodPost, h.ts.URL+PathEndSession, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(form, req)
			req.Body = io.NopCloser(strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := do(t, b.client, req)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantEnded && r.header.Get("Location") != rpSignedOut+"?state=st" {
				t.Errorf("Location %q, want %s?state=st", r.header.Get("Location"), rpSignedOut)
			}
			if ended := !b.signedIn(); ended != tt.wantEnded {
				t.Errorf("session ended: %v, want %v", ended, tt.wantEnded)
			}
			if notified := len(lr.received()) > 0; notified != tt.wantEnded {
				t.Errorf("client notified: %v, want %v", notified, tt.wantEnded)
			}
		})
	}
}

// TestEndSessionWithoutSession: a browser that is not signed in is told so
// and still sent back; a valid hint's client still hears of the logout.
func TestEndSessionWithoutSession(t *testing.T) {
	h, lr := newLogoutHarness(t)
	hint := h.browser().signInRP()
	stranger := h.browser()

	r := stranger.get(PathEndSession)
	if r.status != http.StatusOK || !strings.Contains(r.body, "You are signed out") {
		t.Errorf("no parameters: status %d, body %s", r.status, r.body)
	}
	if n := len(lr.received()); n != 0 {
		t.Errorf("%d logout tokens sent without a hint", n)
	}

	r = stranger.get(PathEndSession + "?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpSignedOut}, "state": {"q"}}.Encode())
	if r.status != http.StatusSeeOther || r.header.Get("Location") != rpSignedOut+"?state=q" {
		t.Errorf("with a hint: status %d to %q, want 303 to %s?state=q", r.status, r.header.Get("Location"), rpSignedOut)
	}
	got := lr.received()
	if len(got) != 1 || got[0]["sid"] != claimsOf(t, hint)["sid"] || got[0]["aud"] != "rp" {
		t.Errorf("logout tokens %v, want one for rp with the hint's sid", got)
	}
}

// TestEndedSessionCookieRefused replays the login-session cookie of a
// session that was logged out: the store remembers the end, so a copy of
// the cookie taken before is refused.
func TestEndedSessionCookieRefused(t *testing.T) {
	h, _ := newLogoutHarness(t)
	b := h.browser()
	hint := b.signInRP()
	base := mustURL(t, h.ts.URL)
	var stolen []*http.Cookie
	for _, c := range b.client.Jar.Cookies(base) {
		if c.Name == SessionCookie {
			stolen = append(stolen, c)
		}
	}
	if len(stolen) != 1 {
		t.Fatalf("%d login-session cookies before logout, want 1", len(stolen))
	}
	r := b.get(PathEndSession + "?" + url.Values{"id_token_hint": {hint}}.Encode())
	if r.status != http.StatusOK {
		t.Fatalf("logout: status %d", r.status)
	}
	if hasCookie(b.client.Jar.Cookies(base), SessionCookie) {
		t.Error("the login-session cookie survived the logout")
	}
	thief := h.browser()
	thief.client.Jar.SetCookies(base, stolen)
	if thief.signedIn() {
		t.Error("the replayed cookie of an ended session still signs in")
	}
}

// TestEndSessionByPost: a client may post the request (§2); the browser is
// sent on as a GET, which carries the SameSite=Lax login cookie.
func TestEndSessionByPost(t *testing.T) {
	h, _ := newLogoutHarness(t)
	b := h.browser()
	hint := b.signInRP()
	r := b.post(PathEndSession, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rpSignedOut}, "state": {"p"}, "extra": {"dropped"}})
	loc := r.location(t)
	if r.status != http.StatusSeeOther || loc.Path != PathEndSession {
		t.Fatalf("status %d to %s, want 303 to %s", r.status, loc, PathEndSession)
	}
	if q := loc.Query(); q.Get("id_token_hint") != hint || q.Get("state") != "p" || q.Has("extra") {
		t.Errorf("redirect carries %v, want the recognised parameters only", q)
	}
	if !b.signedIn() {
		t.Error("the post alone ended the session")
	}
	if r = b.get(loc.String()); r.header.Get("Location") != rpSignedOut+"?state=p" {
		t.Errorf("the GET redirects to %q, want %s?state=p", r.header.Get("Location"), rpSignedOut)
	}
}

// TestBackchannelFailureDoesNotBlockLogout: a client that refuses the
// logout token is logged; the person is signed out all the same.
func TestBackchannelFailureDoesNotBlockLogout(t *testing.T) {
	h, lr := newLogoutHarness(t)
	lr.status = http.StatusBadRequest
	b := h.browser()
	hint := b.signInRP()
	r := b.get(PathEndSession + "?" + url.Values{"id_token_hint": {hint}}.Encode())
	if r.status != http.StatusOK || b.signedIn() {
		t.Fatalf("status %d, still signed in %v; want the signed-out page", r.status, b.signedIn())
	}
	if logs := h.logs.String(); !strings.Contains(logs, "back-channel logout failed") || !strings.Contains(logs, "client_id=rp") || !strings.Contains(logs, "status 400") {
		t.Errorf("the failure is not logged with client and status:\n%s", logs)
	}
}

func TestRememberClientIsBounded(t *testing.T) {
	h := newHarness(t)
	sess := &loginSession{Subject: "alice", AuthTime: h.clk.Now(), ExpiresAt: h.clk.Now().Add(time.Hour), CSRF: "c"}
	tests := []struct {
		add  string
		want int
	}{{"web", 1}, {"web", 1}, {"spa", 2}}
	for _, tt := range tests {
		if err := h.srv.rememberClient(httptest.NewRecorder(), sess, tt.add); err != nil {
			t.Fatal(err)
		}
		if len(sess.Clients) != tt.want {
			t.Errorf("after adding %s: %v, want %d clients", tt.add, sess.Clients, tt.want)
		}
	}
	for i := range maxSessionClients {
		_ = h.srv.rememberClient(httptest.NewRecorder(), sess, "c"+string(rune('a'+i)))
	}
	if len(sess.Clients) != maxSessionClients || sess.Clients[0] == "web" || sess.Clients[len(sess.Clients)-1] != "c"+string(rune('a'+maxSessionClients-1)) {
		t.Errorf("clients %v, want the %d most recent", sess.Clients, maxSessionClients)
	}
}

func TestDiscoveryAdvertisesLogout(t *testing.T) {
	h := newHarness(t)
	doc := h.browser().get(PathDiscovery).json(t)
	for name, want := range map[string]any{
		"end_session_endpoint":                 h.ts.URL + PathEndSession,
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
	} {
		if doc[name] != want {
			t.Errorf("%s = %v, want %v", name, doc[name], want)
		}
	}
	for name := range doc {
		if strings.HasPrefix(name, "frontchannel_") || name == "check_session_iframe" {
			t.Errorf("discovery advertises %s, which is not implemented", name)
		}
	}
}

func FuzzParseEndSession(f *testing.F) {
	f.Add("id_token_hint=a.b.c&client_id=rp&post_logout_redirect_uri=https%3A%2F%2Frp.example%2F&state=x")
	f.Add("state=a&state=b")
	f.Add("csrf_token=&ui_locales=de")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, perr := parseEndSession(q)
		if perr != nil {
			if req != nil || perr.Status != http.StatusBadRequest || perr.Detail == "" {
				t.Fatalf("error %+v with request %+v", perr, req)
			}
			return
		}
		if repeated(q) != "" || len(req.IDTokenHint) > maxHintLen || len(req.State) > maxStateLen ||
			len(req.ClientID) > maxClientIDLen || len(req.PostLogoutRedirectURI) > maxParamLen {
			t.Fatalf("accepted %q as %+v", raw, req)
		}
		if again, perr := parseEndSession(req.values()); perr != nil || again.IDTokenHint != req.IDTokenHint ||
			again.ClientID != req.ClientID || again.PostLogoutRedirectURI != req.PostLogoutRedirectURI || again.State != req.State {
			t.Fatalf("the redirect's parameters %v do not parse back to %+v", req.values(), req)
		}
	})
}

// TestRelyingPartySignsOut is the gatehouse proxy's part, played by
// x/oauth2 and go-oidc: sign in, refresh, then sign out through the
// discovered end_session_endpoint with the ID token as the hint. Every ID
// token of the session carries the sid the logout token names.
func TestRelyingPartySignsOut(t *testing.T) {
	h, lr := newLogoutHarness(t)
	ctx := oidc.ClientContext(context.Background(), h.ts.Client())
	provider, err := oidc.NewProvider(ctx, h.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession == "" {
		t.Fatalf("no end_session_endpoint in discovery (%v)", err)
	}
	conf := oauth2.Config{
		ClientID: "rp", ClientSecret: rpSecret, Endpoint: provider.Endpoint(),
		RedirectURL: rpRedirect, Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	verifier := h.verifier("rp")
	sidOf := func(tok *oauth2.Token) string {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("go-oidc rejects the ID token: %v", err)
		}
		var c struct {
			SID string `json:"sid"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c.SID
	}

	b := h.browser()
	pkceVerifier := oauth2.GenerateVerifier()
	authURL := mustURL(t, conf.AuthCodeURL("rp-state", oidc.Nonce("rp-nonce"), oauth2.S256ChallengeOption(pkceVerifier)))
	cb := b.signIn(authURL.Query(), "alice", alicePassword)
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		t.Fatal(err)
	}
	sid := sidOf(tok)
	if sid == "" {
		t.Fatal("the ID token has no sid")
	}
	h.clk.Advance(time.Minute)
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := sidOf(refreshed); got != sid {
		t.Errorf("refreshed ID token sid %q, want the session's %q", got, sid)
	}

	logout := mustURL(t, meta.EndSession)
	logout.RawQuery = url.Values{
		"id_token_hint": {refreshed.Extra("id_token").(string)}, "client_id": {"rp"},
		"post_logout_redirect_uri": {rpSignedOut}, "state": {"bye"},
	}.Encode()
	r := b.get(logout.String())
	if r.status != http.StatusSeeOther || r.header.Get("Location") != rpSignedOut+"?state=bye" {
		t.Fatalf("end session: status %d to %q, want 303 to %s?state=bye", r.status, r.header.Get("Location"), rpSignedOut)
	}
	if got := lr.received(); len(got) != 1 || got[0]["sid"] != sid || got[0]["sub"] != "alice" {
		t.Errorf("logout tokens %v, want one naming alice's session %s", got, sid)
	}
	if b.signedIn() {
		t.Error("still signed in at the authorization server")
	}
}
