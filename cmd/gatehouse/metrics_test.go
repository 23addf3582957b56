package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMetricsListener serves an authserver and a proxy signing in at it,
// with metrics on, and checks what the metrics listener answers: one
// registry holding both servers' families and the runtime's, and a
// /readyz for both.
func TestMetricsListener(t *testing.T) {
	auth, px, metrics := freeAddr(t), freeAddr(t), freeAddr(t)
	yaml := `authserver:
  listen: "` + auth + `"
  issuer: http://` + auth + `
  insecure_allow_http: true
  cookie_secrets: ["0123456789abcdef0123456789abcdef"]
  storage: {type: memory}
  users:
    - {id: u, password_hash: "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"}
  clients:
    - {id: c, secret: s, redirect_uris: ["http://` + px + `/oauth2/callback"]}
proxy:
  listen: "` + px + `"
  public_url: http://` + px + `
  provider: {issuer: "http://` + auth + `", client_id: c, client_secret: s}
  cookie: {secrets: ["0123456789abcdef0123456789abcdef"]}
  routes: [{path: /, upstream: "http://127.0.0.1:1"}]
metrics: {listen: "` + metrics + `"}
log: {level: warn}
`
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, path, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// serve binds every address before it serves any; wait for the bind.
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", metrics)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("the metrics listener never came up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	get := func(u string) (int, string) {
		t.Helper()
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, u := range []string{"http://" + metrics + "/healthz", "http://" + metrics + "/readyz", "http://" + auth + "/readyz", "http://" + px + "/oauth2/readyz"} {
		if status, body := get(u); status != http.StatusOK || body != "ok\n" {
			t.Errorf("%s: got %d %q, want 200 ok", u, status, body)
		}
	}
	status, body := get("http://" + metrics + "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: got %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "gatehouse_http_requests_total"} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	servers := map[string]bool{}
	for _, m := range families["gatehouse_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "server" {
				servers[l.GetValue()] = true
			}
		}
	}
	if !servers["authserver"] || !servers["proxy"] {
		t.Errorf("gatehouse_http_requests_total has servers %v, want both authserver and proxy", servers)
	}
}
