package proxy_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/memstore"
	"github.com/gatehouse/gatehouse/proxy/redisstore"
)

// backends are the server-side session stores, each opened fresh.
var backends = []struct {
	name string
	open func(t *testing.T, now func() time.Time) proxy.SessionStore
}{
	{"memory", func(t *testing.T, now func() time.Time) proxy.SessionStore { return memstore.New(now) }},
	{"redis", func(t *testing.T, _ func() time.Time) proxy.SessionStore { return openRedis(t) }},
}

func TestServerSideSessions(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			// The store keeps real time, as Redis must; the proxy's injected
			// clock starts at the real time and is not moved here.
			store := be.open(t, nil)
			a := proxy.NewTestEnv(t, func(func() time.Time) proxy.SessionStore { return store })
			b := a.Replica(store)
			browser := proxy.NewTestBrowser(t)
			a.SignIn(browser)

			names := browser.CookieNames(a.URL())
			c := browser.Cookie(a.URL(), "_gatehouse")
			if len(names) != 1 || c == nil || len(c.Value) > 200 {
				t.Fatalf("cookies with a session store: got %q (session cookie %d bytes), want only a small _gatehouse", names, len(c.Value))
			}
			for _, replica := range []interface{ URL() string }{a, b} {
				if status, body := browser.Get(replica.URL() + "/"); status != http.StatusOK || !strings.Contains(body, "user-42") {
					t.Fatalf("request through %s: got %d %q, want 200 as user-42", replica.URL(), status, body)
				}
			}

			// Signing in again replaces the session: the old one ends.
			replaced := *c
			a.SignIn(browser)
			if c = browser.Cookie(a.URL(), "_gatehouse"); c == nil || c.Value == replaced.Value {
				t.Fatal("signing in again kept the old session cookie")
			}
			old := proxy.NewTestBrowser(t)
			old.SetCookie(a.URL(), &replaced)
			if status, _ := old.Get(a.URL() + "/"); status != http.StatusUnauthorized {
				t.Fatalf("the replaced session: got %d, want 401", status)
			}

			stolen := *c
			if status, _ := browser.SignOut(b.URL()); status != http.StatusFound {
				t.Fatalf("sign-out at the replica: got %d, want 302", status)
			}
			thief := proxy.NewTestBrowser(t)
			thief.SetCookie(a.URL(), &stolen)
			if status, body := thief.Get(a.URL() + "/"); status != http.StatusUnauthorized || !strings.Contains(body, "session has ended") {
				t.Fatalf("a copy of the cookie after sign-out elsewhere: got %d %s, want 401 session has ended", status, body)
			}
		})
	}
}

func TestServerSideSessionRefreshAndExpiry(t *testing.T) {
	// With the memory store the clock can move for the proxy and the store
	// alike: the session is refreshed in the store before its tokens
	// expire, with the cookie unchanged, and ends at the session TTL.
	e := proxy.NewTestEnv(t, func(now func() time.Time) proxy.SessionStore { return memstore.New(now) })
	browser := proxy.NewTestBrowser(t)
	e.SignIn(browser)
	cookie := browser.Cookie(e.URL(), "_gatehouse").Value
	e.Advance(59*time.Minute + time.Second)
	if status, _ := browser.Get(e.URL() + "/"); status != http.StatusOK || e.RefreshCalls() != 1 {
		t.Fatalf("a minute before the tokens expire: got %d after %d refreshes, want 200 after one", status, e.RefreshCalls())
	}
	if got := browser.Cookie(e.URL(), "_gatehouse").Value; got != cookie {
		t.Fatal("a refresh in the session store changed the session cookie")
	}
	e.Advance(proxy.DefaultSessionTTL - 59*time.Minute)
	if status, body := browser.Get(e.URL() + "/"); status != http.StatusUnauthorized || !strings.Contains(body, "session") {
		t.Fatalf("at the session TTL: got %d %s, want 401", status, body)
	}
}

func TestSessionStoreUnreachable(t *testing.T) {
	// A Redis that is not there: nothing listens on port 1.
	dead, err := redisstore.Open("redis://127.0.0.1:1/0", "gatehouse-test:", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	e := proxy.NewTestEnv(t, func(now func() time.Time) proxy.SessionStore { return memstore.New(now) })
	browser := proxy.NewTestBrowser(t)
	e.SignIn(browser)
	down := e.Replica(dead)

	if status, body := browser.Navigate(down.URL() + "/"); status != http.StatusServiceUnavailable || !strings.Contains(body, "cannot reach its session store") {
		t.Fatalf("request with the store down: got %d, want 503 page:\n%s", status, body)
	}
	if status, body := browser.SignOut(down.URL()); status != http.StatusServiceUnavailable || !strings.Contains(body, "still signed in") {
		t.Fatalf("sign-out with the store down: got %d, want 503 page:\n%s", status, body)
	}
	if browser.Cookie(e.URL(), "_gatehouse") == nil {
		t.Fatal("a failed sign-out deleted the session cookie; it should change nothing")
	}
	if status, _ := browser.Get(e.URL() + "/"); status != http.StatusOK {
		t.Fatalf("the session after a failed sign-out: got %d, want 200", status)
	}
}

// openRedis returns a Redis store with a key prefix of its own, or skips.
func openRedis(t *testing.T) *redisstore.Store {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if u == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL not set: skipping Redis tests (e.g. GATEHOUSE_TEST_REDIS_URL=redis://127.0.0.1:6379/0)")
	}
	s, err := redisstore.Open(u, "gatehouse-test:"+rand.Text()+":", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// deployments are the ways replicas keep sessions: each returns the
// options of one replica; replicas built from one deployment share what
// they share in production.
var deployments = []struct {
	name string
	// shared says whether a second replica sees the first's sign-outs.
	shared bool
	open   func(t *testing.T) func(*proxy.Config)
}{
	{"cookie", false, func(t *testing.T) func(*proxy.Config) { return func(*proxy.Config) {} }},
	{"cookie+redis", true, func(t *testing.T) func(*proxy.Config) {
		s := openRedis(t)
		return func(c *proxy.Config) { c.Shared = s }
	}},
	{"memory", false, func(t *testing.T) func(*proxy.Config) {
		var s proxy.SessionStore
		return func(c *proxy.Config) {
			if s == nil {
				s = memstore.New(c.Now)
			}
			c.Sessions = s
		}
	}},
	{"redis", true, func(t *testing.T) func(*proxy.Config) {
		s := openRedis(t)
		return func(c *proxy.Config) { c.Sessions = s }
	}},
}

// TestSignOutRevokesCopiedCookie: after sign-out, a copy of the session
// cookie taken before stops working: at the same replica in every
// deployment, and at every replica where they share sessions or sign-outs.
func TestSignOutRevokesCopiedCookie(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			option := d.open(t)
			a := proxy.NewTestEnvConfig(t, option)
			b := a.ReplicaConfig(option)
			a.Maintain(t)
			b.Maintain(t)
			browser := proxy.NewTestBrowser(t)
			a.SignIn(browser)
			copied := browser.Cookies(a.URL())

			out := a
			if d.shared {
				out = b
			}
			if status, body := browser.SignOut(out.URL()); status != http.StatusFound {
				t.Fatalf("sign-out: got %d %s", status, body)
			}
			thief := proxy.NewTestBrowser(t)
			for _, c := range copied {
				thief.SetCookie(a.URL(), c)
			}
			// Another replica hears of a sign-out through Redis, a moment later.
			deadline := time.Now().Add(5 * time.Second)
			for {
				status, body := thief.Get(a.URL() + "/")
				if status == http.StatusUnauthorized && strings.Contains(body, "session has ended") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a copy of the cookie after sign-out: got %d %s, want 401 session has ended", status, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestRefreshAcrossReplicas: requests for one session reaching two
// replicas at once make one refresh where replicas share Redis, so a
// provider that rotates refresh tokens never sees one used twice.
func TestRefreshAcrossReplicas(t *testing.T) {
	for _, d := range deployments {
		if !d.shared {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			option := d.open(t)
			a := proxy.NewTestEnvConfig(t, option)
			b := a.ReplicaConfig(option)
			a.ShortTokens(10 * time.Minute)
			browser := proxy.NewTestBrowser(t)
			a.SignIn(browser)
			cookies := browser.Cookies(a.URL())
			a.Advance(9*time.Minute + time.Second)
			release := a.HoldRefreshes()
			defer release()

			var wg sync.WaitGroup
			statuses := make([]int, 10)
			for i := range statuses {
				replica := a
				if i%2 == 1 {
					replica = b
				}
				wg.Go(func() {
					c := proxy.NewTestBrowser(t)
					for _, k := range cookies {
						c.SetCookie(replica.URL(), k)
					}
					statuses[i], _ = c.Get(replica.URL() + "/")
				})
			}
			for a.RefreshCalls() == 0 {
				time.Sleep(time.Millisecond)
			}
			// Give the other replica's requests time to find the lock taken.
			time.Sleep(100 * time.Millisecond)
			release()
			wg.Wait()
			for i, s := range statuses {
				if s != http.StatusOK {
					t.Errorf("request %d: got %d, want 200", i, s)
				}
			}
			if n := a.RefreshCalls(); n != 1 {
				t.Fatalf("refreshes: got %d, want 1 across both replicas", n)
			}
		})
	}
}

// countingShared counts every call the proxy makes to its shared state.
type countingShared struct {
	proxy.Shared
	calls atomic.Int32
}

func (c *countingShared) Save(ctx context.Context, id string, v []byte, ttl time.Duration) error {
	c.calls.Add(1)
	return c.Shared.Save(ctx, id, v, ttl)
}

func (c *countingShared) Load(ctx context.Context, id string) ([]byte, error) {
	c.calls.Add(1)
	return c.Shared.Load(ctx, id)
}

func (c *countingShared) Delete(ctx context.Context, id string) error {
	c.calls.Add(1)
	return c.Shared.Delete(ctx, id)
}

func (c *countingShared) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	c.calls.Add(1)
	return c.Shared.Lock(ctx, name, ttl)
}

func (c *countingShared) Revoke(ctx context.Context, id string, until time.Time) error {
	c.calls.Add(1)
	return c.Shared.Revoke(ctx, id, until)
}

// TestCookieModeHotPath: in cookie mode, with Redis shared between
// replicas, a request that needs no refresh asks neither Redis nor the
// provider anything.
func TestCookieModeHotPath(t *testing.T) {
	shared := &countingShared{Shared: openRedis(t)}
	e := proxy.NewTestEnvConfig(t, func(c *proxy.Config) { c.Shared = shared })
	e.Maintain(t) // follows revocations in the background, not per request
	browser := proxy.NewTestBrowser(t)
	e.SignIn(browser)
	before, provider := shared.calls.Load(), e.ProviderCalls()
	for range 20 {
		if status, _ := browser.Get(e.URL() + "/"); status != http.StatusOK {
			t.Fatalf("got %d, want 200", status)
		}
	}
	if got := shared.calls.Load() - before; got != 0 {
		t.Errorf("20 requests made %d calls to Redis, want 0", got)
	}
	if got := e.ProviderCalls() - provider; got != 0 {
		t.Errorf("20 requests made %d calls to the provider, want 0", got)
	}
}
