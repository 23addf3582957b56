package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// This file lends the test harness to the tests in package proxy_test,
// which can import the session stores; importing them from package proxy
// would be an import cycle.

// NewTestEnv serves a proxy with sessions in front of a test provider and
// a test upstream.
// open is given the proxy's clock.
func NewTestEnv(t *testing.T, open func(now func() time.Time) SessionStore) *env {
	return newEnv(t, func(c *Config) { c.Sessions = open(c.Now) })
}

// NewTestEnvConfig serves a proxy configured by option in front of a test
// provider and a test upstream.
func NewTestEnvConfig(t *testing.T, option func(*Config)) *env { return newEnv(t, option) }

// ReplicaConfig serves another proxy like e, changed by option.
func (e *env) ReplicaConfig(option func(*Config)) *env { return e.replica(option) }

// Maintain runs the proxy's background work until the test ends.
func (e *env) Maintain(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.proxy.Maintain(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// ShortTokens makes the provider's tokens last d.
func (e *env) ShortTokens(d time.Duration) { e.op.set(func(tp *testProvider) { tp.accessTTL = d }) }

// HoldRefreshes makes the provider hold refreshes until release is called.
func (e *env) HoldRefreshes() (release func()) {
	gate := make(chan struct{})
	e.op.set(func(tp *testProvider) { tp.refreshGate = gate })
	return sync.OnceFunc(func() { close(gate) })
}

// Replica serves another proxy with sessions in front of the same provider
// and upstream, with the same secrets and clock.
func (e *env) Replica(sessions SessionStore) *env {
	return e.replica(func(c *Config) { c.Sessions = sessions })
}

// ProviderCalls counts the requests the provider answered: discovery,
// keys, token, userinfo and introspection.
func (e *env) ProviderCalls() int32 {
	return e.op.discoveries.Load() + e.op.jwksCalls.Load() + e.op.tokenCalls.Load() + e.op.userinfoCalls.Load() + e.op.introspections.Load()
}
func (e *env) RefreshCalls() int32              { return e.op.refreshCalls.Load() }
func (e *env) URL() string                      { return e.srv.URL }
func (e *env) Now() time.Time                   { return e.clock.Now() }
func (e *env) Advance(d time.Duration)          { e.clock.Advance(d) }
func (e *env) UpstreamUser(t *testing.T) string { return e.up.last(t).Header.Get(headerUser) }

// SignIn walks the sign-in flow from /oauth2/start.
func (e *env) SignIn(b *browser) { e.signIn(b, startPath) }

func NewTestBrowser(t *testing.T) *browser { return newBrowser(t) }

// Get fetches u as an API client would and returns the status and body.
func (b *browser) Get(u string) (int, string) {
	r := b.do(http.MethodGet, u, nil)
	return r.StatusCode, r.body
}

// Navigate fetches u as a browser navigation and returns the status and body.
func (b *browser) Navigate(u string) (int, string) {
	r := b.get(u)
	return r.StatusCode, r.body
}

// SignOut confirms a sign-out at the proxy at u.
func (b *browser) SignOut(u string) (int, string) {
	r := b.signOut(u, "")
	return r.StatusCode, r.body
}

func (b *browser) Cookie(u, name string) *http.Cookie { return b.cookie(u, name) }

// Cookies are the browser's cookies for u.
func (b *browser) Cookies(u string) []*http.Cookie {
	v, _ := url.Parse(u)
	return b.jar.Cookies(v)
}
func (b *browser) CookieNames(u string) []string      { return b.cookieNames(u) }
func (b *browser) SetCookie(u string, c *http.Cookie) { b.setCookie(u, c) }

// LastSID is the provider session (sid) of the latest sign-in.
func (e *env) LastSID() string {
	e.op.mu.Lock()
	defer e.op.mu.Unlock()
	return e.op.sids[len(e.op.sids)-1]
}

// LogoutClaims are the claims of a valid logout token for the provider
// session sid, or, with sid empty, for every session of the user.
func (e *env) LogoutClaims(sid string) map[string]any { return e.op.logoutClaims(sid) }

// LogoutToken signs claims as the provider signs logout tokens; header
// adds to or replaces typ (logout+jwt) and kid.
func (e *env) LogoutToken(header, claims map[string]any) string {
	h := map[string]any{"typ": "logout+jwt"}
	maps.Copy(h, header)
	return e.op.jwt(h, claims)
}

// ForgedLogoutToken signs claims without the provider's key: "other-key"
// signs with another key under the provider's kid, "HS256" with the client
// secret, "none" not at all.
func (e *env) ForgedLogoutToken(how string, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("logout+jwt").WithHeader("kid", "k1")
	switch how {
	case "other-key":
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			e.t.Fatal(err)
		}
		return signJWT(e.t, jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts, claims)
	case "HS256":
		return signJWT(e.t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte(e.op.clientSecret + ", padded to HS256 key size")}, opts, claims)
	case "none":
		payload, err := json.Marshal(claims)
		if err != nil {
			e.t.Fatal(err)
		}
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"none","typ":"logout+jwt","kid":"k1"}`)) + "." + enc(payload) + "."
	}
	e.t.Fatalf("no forgery %q", how)
	return ""
}

// Revocations counts the entries of the proxy's revocation list.
func (e *env) Revocations() int64 { return e.proxy.revoked.count.Load() }
