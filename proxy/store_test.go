package proxy_test

import (
	"crypto/rand"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
	{"redis", func(t *testing.T, _ func() time.Time) proxy.SessionStore {
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
	}},
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
	dead := redisstore.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1}), "gatehouse-test:", 0)
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
