package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upstreamHeaders returns the headers the upstream received, lower-cased
// with "_" read as "-" the way CGI-style servers read them, for the names
// that pass keep.
func upstreamHeaders(r *http.Request, keep func(string) bool) map[string]string {
	got := map[string]string{}
	for k, v := range r.Header {
		n := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		if keep(n) {
			got[n] = strings.Join(v, ",")
		}
	}
	return got
}

func TestIdentityHeaderPresetsAndMappings(t *testing.T) {
	spoofs := http.Header{}
	for _, k := range []string{
		"X-Webauth-User", "X_WEBAUTH_USER", "x-webauth-role", "Remote-User", "REMOTE_USER", "X-Remote-User",
		"X-Auth-Request-User", "x_auth_request_email", "X-Forwarded-Access-Token", "X-Forwarded-User",
		"X-Department", "x_department", "X-Forwarded-Groups",
	} {
		spoofs[k] = []string{"spoofed"}
	}
	identityish := func(n string) bool {
		return strings.HasPrefix(n, "x-webauth-") || strings.HasPrefix(n, "remote-") || strings.HasPrefix(n, "x-auth-request-") ||
			strings.HasPrefix(n, "x-forwarded-") && n != "x-forwarded-for" && n != "x-forwarded-host" && n != "x-forwarded-proto" ||
			n == "x-remote-user" || n == "x-department" || n == "authorization"
	}
	tests := []struct {
		name     string
		identity Identity
		want     map[string]string
	}{
		{"default preset", Identity{}, map[string]string{
			"x-forwarded-user": "user-42", "x-forwarded-email": "ada@example.com",
			"x-forwarded-preferred-username": "ada", "x-forwarded-groups": "eng,ops",
		}},
		{"grafana", Identity{Preset: "grafana"}, map[string]string{
			"x-webauth-user": "ada", "x-webauth-email": "ada@example.com", "x-webauth-name": "Ada Lovelace", "x-webauth-groups": "eng,ops",
		}},
		{"gitea", Identity{Preset: "gitea"}, map[string]string{
			"x-webauth-user": "ada", "x-webauth-email": "ada@example.com", "x-webauth-fullname": "Ada Lovelace",
		}},
		{"remote-user", Identity{Preset: "remote-user"}, map[string]string{
			"remote-user": "ada", "remote-email": "ada@example.com", "remote-name": "Ada Lovelace", "remote-groups": "eng,ops",
		}},
		{"none plus a custom claim", Identity{Preset: "none", Headers: map[string]string{"X-Department": "department", "X-Webauth-User": "sub"}}, map[string]string{
			"x-department": "research,labs", "x-webauth-user": "user-42",
		}},
		{"preset entry replaced", Identity{Preset: "grafana", Headers: map[string]string{"X-WEBAUTH-USER": "email"}}, map[string]string{
			"x-webauth-user": "ada@example.com", "x-webauth-email": "ada@example.com", "x-webauth-name": "Ada Lovelace", "x-webauth-groups": "eng,ops",
		}},
		{"ID token as bearer", Identity{Preset: "none", Authorization: "id_token"}, map[string]string{"authorization": "Bearer it"}},
		{"access token as bearer and header", Identity{Preset: "none", Authorization: "access_token", AccessTokenHeader: true}, map[string]string{
			"authorization": "Bearer at", "x-forwarded-access-token": "at",
		}},
		{"basic auth", Identity{Preset: "none", Authorization: "basic", BasicAuthPassword: "upstream-pw"}, map[string]string{
			"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:upstream-pw")),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				c.Routes[0].Identity = tt.identity
				// A second route sets X-Department, so every route strips it.
				c.Routes = append(c.Routes, Route{Path: "/other", Upstream: c.Routes[0].Upstream, Identity: Identity{Headers: map[string]string{"X-Department": "department"}}})
			})
			s := e.testSession()
			s.Claims = map[string][]string{"department": {"research", "labs"}}
			h := spoofs.Clone()
			h["Cookie"] = []string{cookieHeader(e.mint(s))}
			h["Authorization"] = []string{"Bearer client-token"}
			if r := serve(e.proxy, http.MethodGet, "/", h); r.Code != http.StatusOK {
				t.Fatalf("got %d, want 200: %s", r.Code, r.Body)
			}
			want := maps.Clone(tt.want)
			if _, set := want["authorization"]; !set {
				// A client's own Authorization passes when the route sets none.
				want["authorization"] = "Bearer client-token"
			}
			if got := upstreamHeaders(e.up.last(t), identityish); !maps.Equal(got, want) {
				t.Fatalf("identity headers upstream:\ngot  %v\nwant %v", got, want)
			}
		})
	}
}

// TestTokensFromChunkCookies checks that a route passing tokens reads them
// from the chunk cookies, and that a session whose chunks are missing
// counts as no session there.
func TestTokensFromChunkCookies(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Routes[0].Identity = Identity{Authorization: "access_token"}
		c.Routes = append(c.Routes, Route{Path: "/plain", Upstream: c.Routes[0].Upstream})
	})
	cookies := e.mint(e.testSession())
	if r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookieHeader(cookies)}}); r.Code != http.StatusOK {
		t.Fatalf("got %d, want 200", r.Code)
	}
	if got := e.up.last(t).Header.Get("Authorization"); got != "Bearer at" {
		t.Fatalf("Authorization upstream: got %q, want Bearer at", got)
	}
	identityOnly := cookieHeader(cookies[:1])
	if r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {identityOnly}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("without token chunks: got %d, want 401", r.Code)
	}
	if r := serve(e.proxy, http.MethodGet, "/plain", http.Header{"Cookie": {identityOnly}}); r.Code != http.StatusOK {
		t.Fatalf("a route that needs no tokens, without chunks: got %d, want 200", r.Code)
	}
}

func TestForwardingSettings(t *testing.T) {
	up := newTestUpstream(t)
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{
			{Path: "/", Upstream: up.srv.URL},
			{Path: "/strip", Upstream: up.srv.URL + "/base", StripPrefix: true},
			{Path: "/keep-host", Upstream: up.srv.URL, PreserveHost: true},
			{Path: "/named-host", Upstream: up.srv.URL, HostHeader: "internal.example", SetHeaders: map[string]string{"X-Env": "test", "Authorization": "Bearer static"}},
		}
	})
	cookie := cookieHeader(e.mint(e.testSession()))
	tests := []struct {
		target, path, host, prefix, env, auth string
	}{
		{target: "/x", path: "/x", host: up.srv.Listener.Addr().String()},
		{target: "/strip/a/b?q=1", path: "/base/a/b", host: up.srv.Listener.Addr().String(), prefix: "/strip"},
		{target: "/STRIP", path: "/base/", host: up.srv.Listener.Addr().String(), prefix: "/strip"},
		{target: "/keep-host/x", path: "/keep-host/x", host: "app.example.com"},
		{target: "/named-host", path: "/named-host", host: "internal.example", env: "test", auth: "Bearer static"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://app.example.com"+tt.target, nil)
			req.Header.Set("Cookie", cookie)
			req.Header.Set("Authorization", "Bearer from-client")
			req.Header.Set("X-Forwarded-Prefix", "/spoofed")
			rec := httptest.NewRecorder()
			e.proxy.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d: %s", rec.Code, rec.Body)
			}
			got := up.last(t)
			auth := tt.auth
			if auth == "" {
				auth = "Bearer from-client"
			}
			if got.URL.Path != tt.path || got.Host != tt.host || got.Header.Get("X-Forwarded-Prefix") != tt.prefix ||
				got.Header.Get("X-Env") != tt.env || got.Header.Get("Authorization") != auth {
				t.Fatalf("upstream got path %q host %q prefix %q env %q auth %q; want %q %q %q %q %q",
					got.URL.Path, got.Host, got.Header.Get("X-Forwarded-Prefix"), got.Header.Get("X-Env"), got.Header.Get("Authorization"),
					tt.path, tt.host, tt.prefix, tt.env, auth)
			}
		})
	}
}

func TestUnixSocketUpstream(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("over the socket: " + r.URL.Path + " for " + r.Header.Get(headerUser) + " at " + r.Host))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e := newEnv(t, func(c *Config) { c.Routes = []Route{{Path: "/", Upstream: "unix:" + sock}} })
	r := serve(e.proxy, http.MethodGet, "/hello", http.Header{"Cookie": {cookieHeader(e.mint(e.testSession()))}})
	if r.Code != http.StatusOK || r.Body.String() != "over the socket: /hello for user-42 at localhost" {
		t.Fatalf("got %d %q", r.Code, r.Body)
	}
}

func TestHTTPSUpstreamWithCAAndClientCertificate(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("tls ok for " + r.Header.Get(headerUser)))
	}))
	up.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	up.StartTLS()
	t.Cleanup(up.Close)
	// httptest's self-signed certificate serves as the CA, and (with its
	// key) as the client certificate the upstream demands.
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	writePEM(t, ca, "CERTIFICATE", up.Certificate().Raw)
	writePEM(t, cert, "CERTIFICATE", up.Certificate().Raw)
	der, err := x509.MarshalPKCS8PrivateKey(up.TLS.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, key, "PRIVATE KEY", der)

	tests := []struct {
		name string
		tls  UpstreamTLS
		want int
	}{
		{"CA and client certificate", UpstreamTLS{CAFile: ca, CertFile: cert, KeyFile: key}, http.StatusOK},
		{"no client certificate", UpstreamTLS{CAFile: ca}, http.StatusBadGateway},
		{"unknown CA", UpstreamTLS{CertFile: cert, KeyFile: key}, http.StatusBadGateway},
		{"name that the certificate lacks", UpstreamTLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "other.example"}, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Routes = []Route{{Path: "/", Upstream: up.URL, TLS: tt.tls}} })
			r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookieHeader(e.mint(e.testSession()))}})
			if r.Code != tt.want || tt.want == http.StatusOK && r.Body.String() != "tls ok for user-42" {
				t.Fatalf("got %d %q, want %d", r.Code, r.Body, tt.want)
			}
		})
	}
}

func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		want    map[string]string
	}{
		{"untrusted client", nil, map[string]string{
			"x-forwarded-for": "192.0.2.1", "x-forwarded-host": "app.example.com", "x-forwarded-proto": "http",
		}},
		{"trusted edge", []string{"192.0.2.0/24"}, map[string]string{
			"x-forwarded-for": "203.0.113.7, 192.0.2.1", "x-forwarded-host": "edge.example.com", "x-forwarded-proto": "https",
			"x-forwarded-port": "443", "x-real-ip": "203.0.113.7",
		}},
		{"another network", []string{"10.0.0.0/8", "127.0.0.1"}, map[string]string{
			"x-forwarded-for": "192.0.2.1", "x-forwarded-host": "app.example.com", "x-forwarded-proto": "http",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.TrustedProxies = tt.trusted })
			req := httptest.NewRequest(http.MethodGet, "http://app.example.com/", nil)
			req.Header = http.Header{
				"Cookie":             {cookieHeader(e.mint(e.testSession()))},
				"X-Forwarded-For":    {"203.0.113.7"},
				"X-Forwarded-Host":   {"edge.example.com"},
				"X-Forwarded-Proto":  {"https"},
				"X-Forwarded-Port":   {"443"},
				"X-Real-Ip":          {"203.0.113.7"},
				"X-Original-Url":     {"/admin"},
				"X-Rewrite-Url":      {"/admin"},
				"X_Forwarded_Prefix": {"/admin"},
				"X-Forwarded-Uri":    {"/admin"},
				// Envoy's and Traefik's client-certificate identity.
				"X-Forwarded-Client-Cert":     {"URI=spiffe://cluster/ns/admin"},
				"X_Forwarded_Tls_Client_Cert": {"MIIB..."},
			}
			rec := httptest.NewRecorder()
			e.proxy.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d", rec.Code)
			}
			got := upstreamHeaders(e.up.last(t), func(n string) bool {
				return e.proxy.state.Load().headers.kind(n) == kindForwarding
			})
			if !maps.Equal(got, tt.want) {
				t.Fatalf("forwarding headers upstream:\ngot  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	e := newEnv(t, func(c *Config) {
		c.Routes = []Route{{Path: "/", Upstream: slow.URL, Timeouts: Timeouts{ResponseHeader: 50 * time.Millisecond}}}
	})
	r := serve(e.proxy, http.MethodGet, "/", http.Header{"Cookie": {cookieHeader(e.mint(e.testSession()))}, "Accept": {acceptHTML}})
	if r.Code != http.StatusGatewayTimeout || !strings.Contains(r.Body.String(), "took too long") {
		t.Fatalf("an upstream slower than response_header: got %d, want the 504 page:\n%s", r.Code, r.Body)
	}
}
