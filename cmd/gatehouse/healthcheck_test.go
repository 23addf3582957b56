package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// healthConfig is a valid file whose authserver (issuer path /auth) and
// proxy listen on the given addresses. Its secrets are test values.
const healthConfig = `authserver:
  listen: %[1]s
  issuer: http://localhost:9000/auth
  storage: {type: memory}
  cookie_secrets: ["test cookie secret 0123456789abcdef"]
  users: [{id: u, password_hash: "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"}]
  clients: [{id: app, secret: test-client-secret, redirect_uris: ["http://localhost:8000/oauth2/callback"]}]
proxy:
  listen: %[2]s
  public_url: http://localhost:8000
  provider: {issuer: http://localhost:9000/auth, client_id: app, client_secret: test-client-secret}
  cookie: {secrets: ["test cookie secret 0123456789abcdef"]}
  routes: [{path: /, upstream: "http://127.0.0.1:1"}]
`

// healthServer answers 200 at the paths in ok, the given status
// elsewhere, and records what it was asked.
func healthServer(t *testing.T, ok map[string]bool, otherwise int) (addr string, asked *[]string) {
	t.Helper()
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if ok[r.URL.Path] {
			return
		}
		if otherwise == http.StatusFound {
			http.Redirect(w, r, "/auth/healthz", otherwise) // healthy there, but a redirect is no answer
			return
		}
		w.WriteHeader(otherwise)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), &paths
}

func TestHealthcheck(t *testing.T) {
	closed := func(t *testing.T) string { // an address nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	healthy := map[string]bool{"/auth/healthz": true, "/oauth2/healthz": true, "/auth/readyz": true, "/oauth2/readyz": true}
	for _, tc := range []struct {
		name string
		args []string
		// proxyStatus is what the proxy answers at paths not in healthy
		// (or, for 0, that it does not listen).
		proxyOK     map[string]bool
		proxyStatus int
		// anyAddress has the proxy listen on 0.0.0.0:port in the file.
		anyAddress bool
		wantErr    string
		wantOut    []string
		wantAsked  string
	}{
		{name: "both alive", proxyOK: healthy, wantOut: []string{"authserver http://127.0.0.1:", "/auth/healthz: ok", "/oauth2/healthz: ok"}, wantAsked: "/oauth2/healthz"},
		{name: "both ready", args: []string{"--ready"}, proxyOK: healthy, wantOut: []string{"/auth/readyz: ok", "/oauth2/readyz: ok"}, wantAsked: "/oauth2/readyz"},
		{name: "listening on every address is asked over loopback", proxyOK: healthy, anyAddress: true, wantOut: []string{"proxy http://127.0.0.1:"}},
		{name: "proxy not ready", args: []string{"--ready"}, proxyOK: map[string]bool{"/oauth2/healthz": true}, proxyStatus: http.StatusServiceUnavailable,
			wantErr: "1 of 2 servers are not healthy", wantOut: []string{"/oauth2/readyz: answered 503 Service Unavailable, want 200 OK"}},
		{name: "a redirect is not followed", proxyOK: map[string]bool{}, proxyStatus: http.StatusFound,
			wantErr: "1 of 2", wantOut: []string{"/oauth2/healthz: answered 302 Found"}},
		{name: "proxy down", wantErr: "1 of 2", wantOut: []string{"/oauth2/healthz: dial tcp", "connection refused"}},
		{name: "unknown flag", args: []string{"--verbose"}, wantErr: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authAddr, _ := healthServer(t, healthy, http.StatusNotFound)
			proxyAddr, asked := closed(t), new([]string)
			if tc.proxyOK != nil {
				proxyAddr, asked = healthServer(t, tc.proxyOK, tc.proxyStatus)
			}
			listen := proxyAddr
			if tc.anyAddress {
				_, port, _ := net.SplitHostPort(proxyAddr)
				listen = "0.0.0.0:" + port
			}
			path := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(path, fmt.Appendf(nil, healthConfig, authAddr, listen), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck", "--config", path}, tc.args...), nil, &stdout, &stderr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none; output:\n%s", err, stdout.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want one containing %q; output:\n%s", err, tc.wantErr, stdout.String())
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
			if tc.wantAsked != "" && (len(*asked) != 1 || (*asked)[0] != tc.wantAsked) {
				t.Errorf("the proxy was asked for %v, want [%s]", *asked, tc.wantAsked)
			}
		})
	}
}

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:9000", "http://127.0.0.1:9000/healthz"},
		{":9000", "http://127.0.0.1:9000/healthz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:9000", "http://[::1]:9000/healthz"},
		{"[::1]:9000", "http://[::1]:9000/healthz"},
		{"gatehouse.internal:9000", "http://gatehouse.internal:9000/healthz"},
	} {
		if got := healthURL(tc.listen, "/healthz"); got != tc.want {
			t.Errorf("healthURL(%q) = %q, want %q", tc.listen, got, tc.want)
		}
	}
}
