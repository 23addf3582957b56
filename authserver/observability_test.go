package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/httpx/httpxtest"
	"github.com/gatehouse/gatehouse/internal/netcut"
)

func TestMetricsAndAccessLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Metrics, c.AccessLog = reg, true })
	verifier, challenge := pkce("metrics")
	params := authParams(challenge)
	wrong := h.browser()
	if r := wrong.submitLogin(wrong.authorize(params), "alice", "not her password"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: got %d, want 401", r.status)
	}
	cb := h.browser().signIn(params, "alice", alicePassword)
	h.exchange(cb.Get("code"), verifier)
	if r := h.browser().get("/no/such/endpoint?code=SECRET-IN-QUERY"); r.status != http.StatusNotFound {
		t.Fatalf("unknown path: got %d, want 404", r.status)
	}

	m := httpxtest.Scrape(t, reg)
	for _, tc := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_sign_ins_total", map[string]string{"server": "authserver", "outcome": signInSuccess}, 1},
		{"gatehouse_sign_ins_total", map[string]string{"server": "authserver", "outcome": signInIncorrect}, 1},
		{"gatehouse_tokens_issued_total", map[string]string{"grant_type": grantAuthorizationCode}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "authserver", "route": PathToken, "code": "200"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "authserver", "route": PathLogin, "code": "401"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "authserver", "route": httpx.NoRoute, "code": "404"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"server": "authserver", "route": PathAuthorize}, 2},
	} {
		if got := m.Value(tc.family, tc.labels); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.family, tc.labels, got, tc.want)
		}
	}

	var login string
	for _, l := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(l, " msg=request ") && strings.Contains(l, " method=POST path=/login ") && !strings.Contains(l, " status=401 ") {
			login = l
		}
	}
	for _, want := range []string{" route=/login ", " user=alice ", " request_id="} {
		if !strings.Contains(login, want) {
			t.Errorf("access line of the login lacks %q: %q", want, login)
		}
	}
	if strings.Contains(h.logs.String(), "SECRET-IN-QUERY") {
		t.Errorf("a query string reached the log:\n%s", h.logs)
	}
}

func TestReadiness(t *testing.T) {
	h := newHarness(t)
	get := func(path string) *response { return h.browser().get(path) }
	if r := get(PathHealth); r.status != http.StatusOK || string(r.body) != "ok\n" {
		t.Errorf("healthz: got %d %q, want 200 ok", r.status, r.body)
	}
	if r := get(PathReady); r.status != http.StatusOK || string(r.body) != "ok\n" {
		t.Errorf("readyz: got %d %q, want 200 ok", r.status, r.body)
	}
	h.store.Close()
	if r := get(PathReady); r.status != http.StatusServiceUnavailable || string(r.body) != "authserver store: memory store: closed\n" {
		t.Errorf("readyz with the store closed: got %d %q, want 503 naming the store", r.status, r.body)
	}
}

// TestStoreOutage cuts the authserver off from a real PostgreSQL: readyz
// turns 503, failures are counted by operation, and readyz recovers once
// the connection is restored.
func TestStoreOutage(t *testing.T) {
	dsn := sqltest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	relay := netcut.New(t, u.Host)
	u.Host = relay.Addr()
	store, err := sqlstore.Open(t.Context(), sqlstore.Config{Driver: "postgres", DSN: u.String(), Schema: sqltest.FreshSchema(t, dsn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Store, c.Metrics = store, reg })
	if r := h.browser().get(PathReady); r.status != http.StatusOK {
		t.Fatalf("readyz: got %d %q, want 200", r.status, r.body)
	}
	relay.Cut()
	if r := h.browser().get(PathReady); r.status != http.StatusServiceUnavailable || !strings.HasPrefix(string(r.body), "authserver store: the postgres database does not answer") {
		t.Errorf("readyz with the database cut off: got %d %q, want 503 naming the store", r.status, r.body)
	}
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {"some-code"}, "redirect_uri": {webRedirect}, "code_verifier": {strings.Repeat("v", 43)}}, "web", webSecret)
	if r.status != http.StatusInternalServerError {
		t.Errorf("token request with the database cut off: got %d, want 500", r.status)
	}
	m := httpxtest.Scrape(t, reg)
	for _, op := range []string{"ping", "claim_auth_code"} {
		if got := m.Value("gatehouse_store_errors_total", map[string]string{"server": "authserver", "operation": op}); got != 1 {
			t.Errorf("store errors of %s: got %v, want 1", op, got)
		}
	}
	relay.Restore()
	// database/sql drops the broken connection it finds and dials anew.
	if r := h.browser().get(PathReady); r.status != http.StatusOK {
		t.Fatalf("readyz with the database back: got %d %q, want 200", r.status, r.body)
	}
}
