package proxy

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
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
