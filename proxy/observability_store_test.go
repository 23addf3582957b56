package proxy_test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/httpx/httpxtest"
	"github.com/gatehouse/gatehouse/internal/netcut"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/proxy/redisstore"
)

// TestSessionStoreOutage cuts the proxy off from a real Redis: readyz
// turns 503 naming the session store and its failures are counted; once
// the connection is restored readyz is 200 again.
func TestSessionStoreOutage(t *testing.T) {
	raw := os.Getenv("GATEHOUSE_TEST_REDIS_URL")
	if raw == "" {
		t.Skip("GATEHOUSE_TEST_REDIS_URL not set: skipping Redis tests (e.g. GATEHOUSE_TEST_REDIS_URL=redis://127.0.0.1:6379/0)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	relay := netcut.New(t, u.Host)
	u.Host = relay.Addr()
	store, err := redisstore.Open(u.String(), "gatehouse-test:readyz:", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	e := proxy.NewTestEnvConfig(t, func(c *proxy.Config) { c.Sessions, c.Metrics = store, reg })
	b := proxy.NewTestBrowser(t)
	e.SignIn(b)

	readyz := func() (int, string) { return proxy.NewTestBrowser(t).Get(e.URL() + proxy.ReadyPath) }
	if status, body := readyz(); status != http.StatusOK {
		t.Fatalf("readyz with Redis up: got %d %q, want 200", status, body)
	}
	relay.Cut()
	if status, body := readyz(); status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "session store: ") {
		t.Fatalf("readyz with Redis cut off: got %d %q, want 503 naming the session store", status, body)
	}
	if status, _ := b.Get(e.URL() + "/"); status != http.StatusServiceUnavailable {
		t.Errorf("a signed-in request with Redis cut off: got %d, want 503", status)
	}
	m := httpxtest.Scrape(t, reg)
	if got := m.Value("gatehouse_store_errors_total", map[string]string{"server": "proxy", "operation": "load"}); got != 2 {
		t.Errorf("session store load errors: got %v, want 2 (readyz, the request)", got)
	}
	relay.Restore()
	if status, body := readyz(); status != http.StatusOK {
		t.Fatalf("readyz with Redis back: got %d %q, want 200", status, body)
	}
}
