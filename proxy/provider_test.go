package proxy

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testProvider is a small but real OpenID Provider served over HTTP: it
// checks what a provider must check (client, redirect URI, PKCE S256,
// single-use codes) and signs ES256 ID tokens with go-jose. It signs in one
// fixed user without a login page; knobs make it misbehave on purpose.
type testProvider struct {
	t            testing.TB
	srv          *httptest.Server
	key          *ecdsa.PrivateKey
	clientID     string
	clientSecret string
	redirectURI  string
	now          func() time.Time

	// down makes discovery answer 503.
	down atomic.Bool
	// tokenRequestIDs are the X-Request-Id of each token request.
	tokenRequestIDs []string
	// discoveries counts discovery requests; tokenCalls counts token
	// requests, refreshCalls those with a refresh token; jwksCalls,
	// userinfoCalls and introspections count those requests.
	discoveries    atomic.Int32
	tokenCalls     atomic.Int32
	refreshCalls   atomic.Int32
	jwksCalls      atomic.Int32
	userinfoCalls  atomic.Int32
	introspections atomic.Int32
	// endSession advertises an end_session_endpoint; set it before the
	// proxy first discovers the provider.
	endSession bool
	// requireLogin makes authorize ask for a password (a page linking to
	// /login) unless the browser has a login session at the provider.
	requireLogin bool

	mu sync.Mutex
	// claims are the user's claims, in the ID token and at userinfo.
	claims map[string]any
	// idTokenOnlySub leaves everything but sub out of the ID token, as
	// providers do that expect clients to call userinfo.
	idTokenOnlySub bool
	// editIDToken changes the ID token's claims just before signing.
	editIDToken func(map[string]any)
	// editUserinfo changes the userinfo response.
	editUserinfo func(map[string]any)
	// authorizeError, when set, is sent back instead of a code.
	authorizeError string
	// extraTokenBytes pads the access token, to test large sessions.
	extraTokenBytes int
	// accessTTL is the access and ID tokens' lifetime; an hour when 0.
	accessTTL time.Duration
	// refreshGate, when set, holds each refresh until it is closed.
	refreshGate chan struct{}
	// refreshStatus, when set, is the token endpoint's answer to refreshes
	// (503 for an outage, 400 for invalid_grant).
	refreshStatus int
	// refreshWithoutIDToken leaves the ID token out of refresh responses.
	refreshWithoutIDToken bool
	codes                 map[string]grant
	accessTokens          map[string]bool
	// refreshTokens are the live refresh tokens, each with the provider
	// session (sid) it continues.
	refreshTokens map[string]string
	// sids are the provider sessions begun, one per sign-in, in order.
	sids   []string
	logins map[string]bool
	// logouts records the end-session requests' parameters.
	logouts []url.Values
	// introspect answers introspection requests by token; other tokens
	// are inactive.
	introspect map[string]map[string]any
}

type grant struct {
	redirectURI, challenge, nonce, sid string
}

func newTestProvider(t testing.TB, now func() time.Time) *testProvider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProvider{
		t:            t,
		key:          key,
		clientID:     "proxy-client",
		clientSecret: "proxy-secret",
		now:          now,
		claims: map[string]any{
			"sub":                "user-42",
			"email":              "ada@example.com",
			"email_verified":     true,
			"preferred_username": "ada",
			"name":               "Ada Lovelace",
			"groups":             []string{"eng", "ops"},
		},
		codes:         map[string]grant{},
		accessTokens:  map[string]bool{},
		refreshTokens: map[string]string{},
		logins:        map[string]bool{},
		introspect:    map[string]map[string]any{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", tp.discovery)
	mux.HandleFunc("GET /jwks", tp.jwks)
	mux.HandleFunc("GET /authorize", tp.authorize)
	mux.HandleFunc("POST /token", tp.token)
	mux.HandleFunc("GET /userinfo", tp.userinfo)
	mux.HandleFunc("GET /login", tp.login)
	mux.HandleFunc("GET /logout", tp.logout)
	mux.HandleFunc("POST /introspect", tp.introspection)
	tp.srv = httptest.NewServer(mux)
	t.Cleanup(tp.srv.Close)
	return tp
}

func (tp *testProvider) issuer() string { return tp.srv.URL }

func (tp *testProvider) set(f func(tp *testProvider)) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	f(tp)
}

func (tp *testProvider) discovery(w http.ResponseWriter, r *http.Request) {
	tp.discoveries.Add(1)
	if tp.down.Load() {
		http.Error(w, "starting up", http.StatusServiceUnavailable)
		return
	}
	doc := map[string]any{
		"issuer":                                tp.issuer(),
		"authorization_endpoint":                tp.issuer() + "/authorize",
		"token_endpoint":                        tp.issuer() + "/token",
		"userinfo_endpoint":                     tp.issuer() + "/userinfo",
		"jwks_uri":                              tp.issuer() + "/jwks",
		"introspection_endpoint":                tp.issuer() + "/introspect",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
	}
	tp.mu.Lock()
	endSession := tp.endSession
	tp.mu.Unlock()
	if endSession {
		doc["end_session_endpoint"] = tp.issuer() + "/logout"
	}
	writeTestJSON(w, http.StatusOK, doc)
}

// loginCookie is the provider's own login session cookie.
const loginCookie = "op_login"

// login stands for the provider's password page: it starts a login
// session and continues the authorization request.
func (tp *testProvider) login(w http.ResponseWriter, r *http.Request) {
	id := rand.Text()
	tp.mu.Lock()
	tp.logins[id] = true
	tp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: id, Path: "/"})
	http.Redirect(w, r, r.URL.Query().Get("continue"), http.StatusFound)
}

// logout is the end_session_endpoint: it ends every login session and
// returns to post_logout_redirect_uri with the state.
func (tp *testProvider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tp.mu.Lock()
	tp.logouts = append(tp.logouts, q)
	clear(tp.logins)
	tp.mu.Unlock()
	back, err := url.Parse(q.Get("post_logout_redirect_uri"))
	if err != nil || back.String() != strings.TrimSuffix(tp.redirectURI, "/oauth2/callback")+"/oauth2/signed_out" {
		http.Error(w, "post_logout_redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	if st := q.Get("state"); st != "" {
		back.RawQuery = url.Values{"state": {st}}.Encode()
	}
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (tp *testProvider) jwks(w http.ResponseWriter, r *http.Request) {
	tp.jwksCalls.Add(1)
	writeTestJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &tp.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"},
	}})
}

func (tp *testProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != tp.clientID:
		http.Error(w, "unknown client_id "+q.Get("client_id"), http.StatusBadRequest)
		return
	case q.Get("redirect_uri") != tp.redirectURI:
		http.Error(w, "redirect_uri "+q.Get("redirect_uri")+" is not registered", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
		return
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		http.Error(w, "scope must include openid", http.StatusBadRequest)
		return
	}
	tp.mu.Lock()
	if tp.requireLogin {
		c, err := r.Cookie(loginCookie)
		if err != nil || !tp.logins[c.Value] {
			tp.mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<p>Password, please.</p><a href="/login?continue=%s">sign in</a>`, url.QueryEscape(r.URL.String()))
			return
		}
	}
	back, _ := url.Parse(tp.redirectURI)
	v := url.Values{"state": {q.Get("state")}}
	if tp.authorizeError != "" {
		v.Set("error", tp.authorizeError)
		v.Set("error_description", "the user said no")
	} else {
		code := rand.Text()
		// Each sign-in begins a provider session.
		sid := rand.Text()
		tp.sids = append(tp.sids, sid)
		tp.codes[code] = grant{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), sid: sid}
		v.Set("code", code)
	}
	tp.mu.Unlock()
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// clientAuthenticated checks client_secret_basic, answering 401 if it fails.
func (tp *testProvider) clientAuthenticated(w http.ResponseWriter, r *http.Request) bool {
	if id, secret, ok := r.BasicAuth(); !ok || id != url.QueryEscape(tp.clientID) || secret != url.QueryEscape(tp.clientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		writeTestJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return false
	}
	return true
}

func (tp *testProvider) token(w http.ResponseWriter, r *http.Request) {
	tp.tokenCalls.Add(1)
	tp.mu.Lock()
	tp.tokenRequestIDs = append(tp.tokenRequestIDs, r.Header.Get("X-Request-Id"))
	tp.mu.Unlock()
	if !tp.clientAuthenticated(w, r) {
		return
	}
	var g grant
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		tp.mu.Lock()
		defer tp.mu.Unlock()
		code := r.PostFormValue("code")
		var ok bool
		g, ok = tp.codes[code]
		delete(tp.codes, code)
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || g.redirectURI != r.PostFormValue("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	case "refresh_token":
		tp.refreshCalls.Add(1)
		tp.mu.Lock()
		gate := tp.refreshGate
		tp.mu.Unlock()
		if gate != nil {
			<-gate
		}
		tp.mu.Lock()
		defer tp.mu.Unlock()
		rt := r.PostFormValue("refresh_token")
		switch {
		case tp.refreshStatus == http.StatusServiceUnavailable:
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		case tp.refreshStatus != 0 || tp.refreshTokens[rt] == "":
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		g.sid = tp.refreshTokens[rt]
		// Rotation: a refresh token works once.
		delete(tp.refreshTokens, rt)
	default:
		writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	access := rand.Text() + strings.Repeat("p", tp.extraTokenBytes)
	tp.accessTokens[access] = true
	refresh := rand.Text()
	tp.refreshTokens[refresh] = g.sid
	ttl := cmp.Or(tp.accessTTL, time.Hour)
	now := tp.now()
	claims := map[string]any{"sub": tp.claims["sub"]}
	if !tp.idTokenOnlySub {
		maps.Copy(claims, tp.claims)
	}
	claims["iss"] = tp.issuer()
	claims["aud"] = tp.clientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	claims["sid"] = g.sid
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if tp.editIDToken != nil {
		tp.editIDToken(claims)
	}
	resp := map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int(ttl.Seconds()),
		"refresh_token": refresh,
		"id_token":      tp.sign(claims),
	}
	if g.redirectURI == "" && tp.refreshWithoutIDToken {
		delete(resp, "id_token")
	}
	writeTestJSON(w, http.StatusOK, resp)
}

func (tp *testProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	tp.userinfoCalls.Add(1)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !tp.accessTokens[token] {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeTestJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	out := maps.Clone(tp.claims)
	if tp.editUserinfo != nil {
		tp.editUserinfo(out)
	}
	writeTestJSON(w, http.StatusOK, out)
}

// introspection answers RFC 7662 requests from tp.introspect.
func (tp *testProvider) introspection(w http.ResponseWriter, r *http.Request) {
	tp.introspections.Add(1)
	if !tp.clientAuthenticated(w, r) {
		return
	}
	tp.mu.Lock()
	answer, ok := tp.introspect[r.PostFormValue("token")]
	tp.mu.Unlock()
	if !ok {
		answer = map[string]any{"active": false}
	}
	writeTestJSON(w, http.StatusOK, answer)
}

// logoutClaims are the claims of a valid back-channel logout token for
// the user: for the provider session sid, or, when sid is empty, for
// every session of the user.
func (tp *testProvider) logoutClaims(sid string) map[string]any {
	now := tp.now()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	c := map[string]any{
		"iss":    tp.issuer(),
		"aud":    tp.clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
		"sub":    tp.claims["sub"],
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// logoutToken signs claims as a logout token, typed logout+jwt.
func (tp *testProvider) logoutToken(claims map[string]any) string {
	return tp.jwt(map[string]any{"typ": "logout+jwt"}, claims)
}

func (tp *testProvider) sign(claims map[string]any) string {
	return tp.jwt(nil, claims)
}

// jwt signs claims with the provider's key; header adds to or replaces
// the header's typ (JWT) and kid (k1).
func (tp *testProvider) jwt(header map[string]any, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1")
	for k, v := range header {
		opts = opts.WithHeader(jose.HeaderKey(k), v)
	}
	return signJWT(tp.t, jose.SigningKey{Algorithm: jose.ES256, Key: tp.key}, opts, claims)
}

func signJWT(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprint("encoding test response: ", err))
	}
}
