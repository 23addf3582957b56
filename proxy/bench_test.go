package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/logsink"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// benchSession is a session of realistic weight: JWT-sized access and ID
// tokens, so its cookies are split the way a real provider's would be.
func benchSession(now time.Time) *session {
	return &session{
		id:      randomToken(),
		expiry:  now.Add(time.Hour),
		touched: now,
		renewAt: now.Add(time.Hour),
		kept:    keepAll,
		Identity: policy.Identity{
			Subject:           "248289761001",
			Email:             "ada.lovelace@example.com",
			EmailVerified:     true,
			PreferredUsername: "ada",
			Name:              "Ada Lovelace",
			Groups:            []string{"engineering", "ops", "admins"},
		},
		tokens: tokens{
			access:       strings.Repeat("a", 900),
			refresh:      strings.Repeat("r", 64),
			id:           strings.Repeat("i", 1000),
			accessExpiry: now.Add(time.Hour),
		},
	}
}

// benchTargets serves a 1 KiB upstream, a bare httputil.ReverseProxy to it
// (Rewrite with SetURL and SetXForwarded, transport tuned like
// ../shared/bench/bareproxy) and this proxy with a signed-in session.
func benchTargets(b *testing.B, routes func(upstream string) []Route, options ...func(*Config)) (bare, gatehouse, cookie string) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	target, _ := url.Parse(up.URL)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	bareSrv := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: tr,
	})
	b.Cleanup(bareSrv.Close)

	pub, _ := url.Parse("http://127.0.0.1")
	cfg := Config{
		PublicURL: pub,
		Provider:  ProviderConfig{IssuerURL: "http://127.0.0.1:9", ClientID: "c"},
		Cookie:    CookieConfig{Secrets: [][]byte{testSecret}, Domain: "example.com"},
		Routes:    routes(up.URL),
		// As an edge proxy in front would be.
		TrustedProxies:         []string{"127.0.0.1"},
		AllowedRedirectDomains: []string{".example.com"},
		Logger:                 slog.New(slog.DiscardHandler),
	}
	for _, o := range options {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	gh := httptest.NewServer(p)
	b.Cleanup(gh.Close)
	rec := httptest.NewRecorder()
	if err := p.saveSession(rec, httptest.NewRequest(http.MethodGet, "/", nil), benchSession(time.Now())); err != nil {
		b.Fatal(err)
	}
	return bareSrv.URL, gh.URL, cookieHeader(rec.Result().Cookies()) + "; _ga=GA1.2.3.4; theme=dark"
}

// BenchmarkProxy runs the same load through the bare reverse proxy and
// through this proxy, one after the other, so their throughput can be
// compared: run with -count to interleave them.
func BenchmarkProxy(b *testing.B) {
	bare, gatehouse, cookie := benchTargets(b, func(up string) []Route { return []Route{{Path: "/", Upstream: up}} })
	_, policies, policiesCookie := benchTargets(b, benchPolicyRoutes)
	_, observed, observedCookie := benchTargets(b, func(up string) []Route { return []Route{{Path: "/", Upstream: up}} }, observe(b))
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	run := func(b *testing.B, u, cookie string) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequest(http.MethodGet, u+"/bench", nil)
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			for pb.Next() {
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("got %d, want 200", resp.StatusCode)
					return
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, "") })
	b.Run("gatehouse", func(b *testing.B) { run(b, gatehouse, cookie) })
	b.Run("policies", func(b *testing.B) { run(b, policies, policiesCookie) })
	b.Run("observed", func(b *testing.B) { run(b, observed, observedCookie) })
}

// observe turns on what production runs with: metrics, and the access log
// written to a file through the logsink `gatehouse serve` puts in front of
// stderr.
func observe(b *testing.B) func(*Config) {
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	sink := logsink.New(f)
	b.Cleanup(func() { sink.Close(); f.Close() })
	return func(c *Config) {
		c.Metrics = prometheus.NewRegistry()
		c.AccessLog = true
		c.Logger = slog.New(slog.NewTextHandler(sink, nil)).With("server", "proxy")
	}
}

// BenchmarkAccessLogLine is the cost of one access-log line written to a
// file, the part of the observed proxy's overhead that is a system call.
func BenchmarkAccessLogLine(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := httpx.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), httpx.Options{
		Logger: slog.New(slog.NewTextHandler(f, nil)).With("server", "proxy"), AccessLog: true,
	})
	off := httpx.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), httpx.Options{})
	req := httptest.NewRequest(http.MethodGet, "/bench", nil)
	req.Header.Set(httpx.RequestIDHeader, "bench-request-id")
	w := httptest.NewRecorder()
	b.Run("off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			off.ServeHTTP(w, req)
		}
	})
	b.Run("on", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
}

// benchPolicyRoutes is a configuration of realistic weight: a dozen routes
// by host and path, and on the route the benchmark requests a policy of a
// few dozen entries that the person passes only by the last list it tries,
// with a header preset and further headers.
func benchPolicyRoutes(up string) []Route {
	many := func(prefix string, n int) []string {
		list := make([]string, n)
		for i := range list {
			list[i] = fmt.Sprintf("%s-%d", prefix, i)
		}
		return list
	}
	routes := []Route{{
		Path: "/bench", Upstream: up,
		Allow: &policy.Rules{
			Users: many("user", 10), Emails: many("someone@example.org", 10), EmailDomains: many("corp", 5),
			Groups: append(many("team", 10), "admins"),
		},
		Deny:     &policy.Rules{Groups: many("contractors", 5), Users: many("former", 5)},
		SkipAuth: []SkipRule{{Methods: []string{"GET"}, Path: "/bench/static/.*"}},
		Identity: Identity{Preset: "grafana", Headers: map[string]string{"X-User-Id": "sub", "X-Role": "preferred_username"}},
	}}
	for i := range 10 {
		routes = append(routes,
			Route{Host: fmt.Sprintf("app%d.example.com", i), Path: "/", Upstream: up, Allow: &policy.Rules{Groups: many("g", 3)}},
			Route{Path: fmt.Sprintf("/app%d", i), Upstream: up, Identity: Identity{Preset: "remote-user"}})
	}
	return routes
}

// BenchmarkSessionFromCookies is the proxy's own work on the hot path
// before forwarding: reading the Cookie header and decoding the session.
func BenchmarkSessionFromCookies(b *testing.B) {
	p := fuzzProxy(b)
	rec := httptest.NewRecorder()
	if err := p.saveSession(rec, httptest.NewRequest(http.MethodGet, "/", nil), benchSession(p.now())); err != nil {
		b.Fatal(err)
	}
	lines := []string{cookieHeader(rec.Result().Cookies()) + "; _ga=GA1.2.3.4; theme=dark"}
	b.ReportAllocs()
	for b.Loop() {
		value, _, _ := splitCookies(lines, p.cookieName)
		if _, err := p.loadSession(context.Background(), value); err != nil {
			b.Fatal(err)
		}
	}
}
