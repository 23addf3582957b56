package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/httpx/httpxtest"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// accessLine returns the access-log line of the request with this id.
func (e *env) accessLine(t *testing.T, id string) string {
	t.Helper()
	for _, l := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(l, " msg=request ") && strings.Contains(l, " request_id="+id) {
			return l
		}
	}
	t.Fatalf("no access-log line for request %s in:\n%s", id, e.logs)
	return ""
}

func TestRequestIDsAndAccessLog(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessLog = true })
	b := newBrowser(t)
	e.signIn(b, "/")

	// The code exchange carries the id of the callback it serves.
	e.op.mu.Lock()
	ids := e.op.tokenRequestIDs
	e.op.mu.Unlock()
	if len(ids) != 1 || !generatedID.MatchString(ids[0]) {
		t.Fatalf("X-Request-Id of the token requests: got %q, want one generated id", ids)
	}
	if l := e.accessLine(t, ids[0]); !strings.Contains(l, " path="+CallbackPath+" ") || !strings.Contains(l, " route="+CallbackPath+" ") {
		t.Errorf("the token request's id is not the callback's: %s", l)
	}

	for _, tc := range []struct {
		name, sent string
		keep       bool
	}{
		{"taken from the edge", "edge-7f3a", true},
		{"malformed replaced", "<bad id>", false},
		{"generated", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Accept": {"application/json"}}
			if tc.sent != "" {
				h.Set(httpx.RequestIDHeader, tc.sent)
			}
			r := b.do(http.MethodGet, e.srv.URL+"/app/page?code=SECRET-IN-QUERY", h)
			id := r.Header.Get(httpx.RequestIDHeader)
			upstream := e.up.last(t).Header.Values(httpx.RequestIDHeader)
			switch {
			case r.StatusCode != http.StatusOK:
				t.Fatalf("got %d, want 200", r.StatusCode)
			case len(upstream) != 1 || upstream[0] != id:
				t.Fatalf("upstream got X-Request-Id %q, want only the response's %q", upstream, id)
			case tc.keep && id != tc.sent, !tc.keep && !generatedID.MatchString(id):
				t.Fatalf("id %q for %q sent; want it kept: %v", id, tc.sent, tc.keep)
			}
			l := e.accessLine(t, id)
			for _, want := range []string{" route=/ ", " method=GET ", " path=/app/page ", " status=200 ", " user=user-42 ", " bytes="} {
				if !strings.Contains(l, want) {
					t.Errorf("access line lacks %q: %s", want, l)
				}
			}
		})
	}
	if strings.Contains(e.logs.String(), "SECRET-IN-QUERY") {
		t.Errorf("a query string reached the log:\n%s", e.logs)
	}
}

func TestProxyMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) {
		c.Metrics = reg
		c.Routes = append(c.Routes, Route{Name: "admin", Path: "/admin", Upstream: c.Routes[0].Upstream, Allow: &policy.Rules{Groups: []string{"admins"}}})
	})
	e.op.set(func(tp *testProvider) { tp.accessTTL = 10 * time.Minute })
	b := newBrowser(t)
	e.signIn(b, "/")
	if r := apiGet(b, e.srv.URL+"/admin/x"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("admin route: got %d, want 403", r.StatusCode)
	}
	if r := apiGet(b, e.srv.URL+CallbackPath); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback without code: got %d, want 400", r.StatusCode)
	}
	e.clock.Advance(9*time.Minute + time.Second)
	if r := apiGet(b, e.srv.URL+"/"); r.StatusCode != http.StatusOK {
		t.Fatalf("after the tokens' refresh time: got %d, want 200", r.StatusCode)
	}
	if r := apiGet(b, e.srv.URL+"/oauth2/nothing"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown reserved path: got %d, want 404", r.StatusCode)
	}

	m := httpxtest.Scrape(t, reg)
	for _, tc := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_sign_ins_total", map[string]string{"server": "proxy", "outcome": "success"}, 1},
		{"gatehouse_sign_ins_total", map[string]string{"server": "proxy", "outcome": "callback_incomplete"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": CallbackPath, "code": "302"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": startPath, "code": "302"}, 0},
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": "/", "code": "302"}, 1}, // sent to sign in
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": "/", "code": "200"}, 2},
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": "admin", "code": "403"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "proxy", "route": httpx.NoRoute, "code": "404"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"server": "proxy", "route": "/"}, 3},
		{"gatehouse_upstream_duration_seconds", map[string]string{"route": "/"}, 2},
		{"gatehouse_upstream_duration_seconds", map[string]string{"route": "admin"}, 0},
		{"gatehouse_policy_denials_total", map[string]string{"route": "admin", "rule": "allow"}, 1},
		{"gatehouse_session_refreshes_total", map[string]string{"outcome": "renewed"}, 1},
	} {
		if got := m.Value(tc.family, tc.labels); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.family, tc.labels, got, tc.want)
		}
	}
}

func TestProxyReadiness(t *testing.T) {
	e := newEnv(t)
	e.op.down.Store(true)
	get := func(path string) *response { return newBrowser(t).do(http.MethodGet, e.srv.URL+path, nil) }
	if r := get(HealthPath); r.StatusCode != http.StatusOK || r.body != "ok\n" {
		t.Errorf("healthz: got %d %q, want 200 ok", r.StatusCode, r.body)
	}
	r := get(ReadyPath)
	if r.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(r.body, "provider: ") || strings.Count(r.body, "\n") != 1 ||
		r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("readyz with the provider down: got %d %q (Cache-Control %q), want 503 with one line on the provider, no-store",
			r.StatusCode, r.body, r.Header.Get("Cache-Control"))
	}
	e.op.down.Store(false)
	e.clock.Advance(discoveryRetryAfter)
	if r := get(ReadyPath); r.StatusCode != http.StatusOK || r.body != "ok\n" {
		t.Fatalf("readyz with the provider back: got %d %q, want 200 ok", r.StatusCode, r.body)
	}
	if n := e.op.jwksCalls.Load(); n != 1 {
		t.Errorf("readyz fetched the key set %d times, want once", n)
	}
	// Once reached, the provider is not asked again.
	e.op.down.Store(true)
	if r := get(ReadyPath); r.StatusCode != http.StatusOK {
		t.Errorf("readyz after the provider was reached: got %d, want 200", r.StatusCode)
	}
}

// TestWebSocketObserved checks that a WebSocket still works through the
// proxy with the access log and metrics on, and is counted as a 101.
func TestWebSocketObserved(t *testing.T) {
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, msg)
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(ws.Close)
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *Config) {
		c.Metrics, c.AccessLog = reg, true
		c.Routes = append(c.Routes, Route{Name: "ws", Path: "/ws", Upstream: ws.URL, Public: true})
	})
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(e.srv.URL)+"/ws", nil)
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "hello" {
		t.Fatalf("echo: got %q, %v", got, err)
	}
	if m := httpxtest.Scrape(t, reg); m.Value("gatehouse_upstream_duration_seconds", map[string]string{"route": "ws"}) != 1 {
		t.Errorf("upstream latency of the WebSocket route: not observed once")
	}
}
