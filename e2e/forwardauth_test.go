package e2e

// Forward-auth through real edge proxies: nginx and Caddy run the very
// configurations shipped in deploy/, in front of gatehouse (built from
// deploy/gatehouse.yaml) and the demo app, and are walked the way browsers
// and API clients walk them.
//
// The deploy files are made runnable here by replacing their documented
// placeholders (see edgePlaceholders and the start functions), never by
// editing what they do. Browsers reach the edge by the host names the files
// name (app.example.com, auth.example.com, or app.localhost and
// auth.localhost for Caddy), through a dialer that connects every such name
// to the edge's loopback port.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/internal/backend"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demoapp"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/internal/testcert"
	"github.com/gatehouse/gatehouse/proxy"
)

// The addresses every deploy file uses for gatehouse's two listeners and
// the app; the tests point them at their own loopback listeners.
const (
	deployProxyAddr = "127.0.0.1:4180"
	deployAuthAddr  = "127.0.0.1:9000"
	deployAppAddr   = "127.0.0.1:3000"
)

// Users of deploy/gatehouse.yaml. The tests give both testPassword.
const (
	edgeStaffUser = "demo"  // groups [staff]
	edgeAdminUser = "admin" // groups [staff, admins]
)

// Test-only secrets that replace the deploy file's DEMO ONLY ones.
const (
	edgeCookieSecret = "e2e edge test cookie secret, test only!!"
	edgeClientSecret = "e2e-edge-client-secret-test-only"
)

// edgePlaceholders lists, for each deploy file, the strings the tests
// replace; TestForwardAuthDeployFiles checks they are all still there.
var edgePlaceholders = map[string][]string{
	"gatehouse.yaml": {"https://app.example.com", "https://auth.example.com", "/var/lib/gatehouse/gatehouse.db"},
	"nginx/gatehouse.conf": {
		"listen 443 ssl;",
		"/etc/letsencrypt/live/app.example.com/fullchain.pem", "/etc/letsencrypt/live/app.example.com/privkey.pem",
		"/etc/letsencrypt/live/auth.example.com/fullchain.pem", "/etc/letsencrypt/live/auth.example.com/privkey.pem",
		deployProxyAddr, deployAuthAddr, deployAppAddr,
	},
	"caddy/Caddyfile":      {"\napp.example.com {", "\nauth.example.com {", deployProxyAddr, deployAuthAddr, deployAppAddr},
	"traefik/dynamic.yaml": {"Host(`app.example.com`)", "Host(`auth.example.com`)", deployProxyAddr, deployAuthAddr, deployAppAddr},
}

func readDeployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "deploy", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fillPlaceholders replaces, in one pass, each old string of pairs (old,
// new, old, new, ...) by its new one, failing when one is missing: a
// deploy file that lost a placeholder must not be tested half-replaced.
func fillPlaceholders(t *testing.T, name, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("deploy/%s no longer contains the placeholder %q", name, pairs[i])
		}
	}
	// One pass, so that a new value (a port) is never replaced again.
	return strings.NewReplacer(pairs...).Replace(text)
}

// replaceAll replaces every match of pattern, which must match want times.
func replaceAll(t *testing.T, name, text, pattern, repl string, want int) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	if got := len(re.FindAllStringIndex(text, -1)); got != want {
		t.Fatalf("deploy/%s: %d matches of %s, want %d", name, got, pattern, want)
	}
	return re.ReplaceAllLiteralString(text, repl)
}

// TestForwardAuthDeployFiles checks, without any edge proxy installed, that
// the deploy files agree with each other and with gatehouse: the gatehouse
// file loads as shipped, listens where the edges send requests, and every
// edge passes on all the identity headers gatehouse's default preset sets.
// It is the only check the Traefik file gets.
func TestForwardAuthDeployFiles(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "deploy", "gatehouse.yaml"))
	if err != nil {
		t.Fatalf("deploy/gatehouse.yaml as shipped: %v", err)
	}
	f := c.File
	if f.Proxy.Listen != deployProxyAddr || f.AuthServer.Listen != deployAuthAddr {
		t.Errorf("deploy/gatehouse.yaml listens on %s (proxy) and %s (authserver); the edge files send to %s and %s",
			f.Proxy.Listen, f.AuthServer.Listen, deployProxyAddr, deployAuthAddr)
	}
	if f.Proxy.PublicURL != "https://app.example.com" || f.AuthServer.Issuer != "https://auth.example.com" {
		t.Errorf("public_url %s and issuer %s: the edge files serve https://app.example.com and https://auth.example.com", f.Proxy.PublicURL, f.AuthServer.Issuer)
	}
	for i, r := range f.Proxy.Routes {
		if r.Upstream != "" {
			t.Errorf("proxy.routes[%d] has an upstream; behind an edge the routes only say who may pass", i)
		}
	}
	if len(f.Proxy.TrustedProxies) == 0 {
		t.Error("proxy.trusted_proxies is empty, so gatehouse would answer the edge's questions with 400")
	}

	for name, placeholders := range edgePlaceholders {
		text := readDeployFile(t, name)
		for _, p := range placeholders {
			if !strings.Contains(text, p) {
				t.Errorf("deploy/%s lacks the placeholder %q that the tests replace", name, p)
			}
		}
	}

	var identityHeaders []string
	for h := range proxy.HeaderPresets["forwarded"] {
		identityHeaders = append(identityHeaders, h)
	}
	slices.Sort(identityHeaders)
	nginx, caddy := readDeployFile(t, "nginx/gatehouse.conf"), readDeployFile(t, "caddy/Caddyfile")
	for _, h := range identityHeaders {
		upstreamVar := "$upstream_http_" + strings.ReplaceAll(strings.ToLower(h), "-", "_")
		if !strings.Contains(nginx, upstreamVar) || !regexp.MustCompile(`proxy_set_header\s+`+h+`\s+\$`).MatchString(nginx) {
			t.Errorf("deploy/nginx/gatehouse.conf does not copy %s from gatehouse's answer to the app (%s)", h, upstreamVar)
		}
		if !regexp.MustCompile(`copy_headers[^\n]*\b` + h + `\b`).MatchString(caddy) {
			t.Errorf("deploy/caddy/Caddyfile: copy_headers lacks %s", h)
		}
		if !strings.Contains(caddy, "request_header -"+h+"\n") {
			t.Errorf("deploy/caddy/Caddyfile does not remove a client's own %s", h)
		}
	}

	// Traefik is not run here; at least its file must say what the other
	// edges do.
	var traefik struct {
		HTTP struct {
			Routers map[string]struct {
				Rule        string   `yaml:"rule"`
				Priority    int      `yaml:"priority"`
				EntryPoints []string `yaml:"entryPoints"`
				Middlewares []string `yaml:"middlewares"`
				Service     string   `yaml:"service"`
				TLS         *struct {
					CertResolver string `yaml:"certResolver"`
				} `yaml:"tls"`
			} `yaml:"routers"`
			Middlewares map[string]struct {
				Headers *struct {
					CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
				} `yaml:"headers"`
				ForwardAuth *struct {
					Address             string   `yaml:"address"`
					TrustForwardHeader  *bool    `yaml:"trustForwardHeader"`
					AuthRequestHeaders  []string `yaml:"authRequestHeaders"`
					AuthResponseHeaders []string `yaml:"authResponseHeaders"`
				} `yaml:"forwardAuth"`
			} `yaml:"middlewares"`
			Services map[string]struct {
				LoadBalancer struct {
					Servers []struct {
						URL string `yaml:"url"`
					} `yaml:"servers"`
				} `yaml:"loadBalancer"`
			} `yaml:"services"`
		} `yaml:"http"`
	}
	dec := yaml.NewDecoder(strings.NewReader(readDeployFile(t, "traefik/dynamic.yaml")))
	dec.KnownFields(true)
	if err := dec.Decode(&traefik); err != nil {
		t.Fatalf("deploy/traefik/dynamic.yaml: %v", err)
	}
	serviceURL := func(name string) string {
		s := traefik.HTTP.Services[name].LoadBalancer.Servers
		if len(s) != 1 {
			return ""
		}
		return s[0].URL
	}
	var authMiddleware, cleanMiddleware string
	for name, m := range traefik.HTTP.Middlewares {
		if m.Headers != nil {
			cleanMiddleware = name
			for _, h := range []string{"X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "Forwarded"} {
				if v, ok := m.Headers.CustomRequestHeaders[h]; !ok || v != "" {
					t.Errorf("traefik: middleware %s does not remove a client's %s", name, h)
				}
			}
		}
		fa := m.ForwardAuth
		if fa == nil {
			continue
		}
		authMiddleware = name
		if fa.Address != "http://"+deployProxyAddr+"/oauth2/auth?redirect=true" {
			t.Errorf("traefik: forwardAuth.address %q, want gatehouse's /oauth2/auth?redirect=true", fa.Address)
		}
		if fa.TrustForwardHeader == nil || *fa.TrustForwardHeader {
			t.Error("traefik: forwardAuth.trustForwardHeader must be false, so that clients cannot name the request")
		}
		for _, h := range identityHeaders {
			if !slices.Contains(fa.AuthResponseHeaders, h) {
				t.Errorf("traefik: authResponseHeaders lacks %s", h)
			}
		}
		for _, h := range []string{"Cookie", "Accept", "Sec-Fetch-Mode", "X-Requested-With"} {
			if len(fa.AuthRequestHeaders) > 0 && !slices.Contains(fa.AuthRequestHeaders, h) {
				t.Errorf("traefik: authRequestHeaders lacks %s, which gatehouse decides on", h)
			}
		}
	}
	if authMiddleware == "" {
		t.Fatal("traefik: no forwardAuth middleware")
	}
	var sawApp, sawOAuth, sawAuth bool
	for name, r := range traefik.HTTP.Routers {
		guarded := slices.Contains(r.Middlewares, authMiddleware)
		target := serviceURL(r.Service)
		switch {
		case strings.Contains(r.Rule, "auth.example.com"):
			sawAuth = target == "http://"+deployAuthAddr && !guarded
		case strings.Contains(r.Rule, "Path(`/oauth2`) || PathPrefix(`/oauth2/`)"):
			sawOAuth = target == "http://"+deployProxyAddr && !guarded
		case strings.Contains(r.Rule, "app.example.com"):
			sawApp = target == "http://"+deployAppAddr && guarded &&
				slices.Index(r.Middlewares, cleanMiddleware) >= 0 && slices.Index(r.Middlewares, cleanMiddleware) < slices.Index(r.Middlewares, authMiddleware)
		default:
			t.Errorf("traefik: router %s has an unexpected rule %q", name, r.Rule)
		}
	}
	if !sawApp || !sawOAuth || !sawAuth {
		t.Errorf("traefik: want a router to the app that cleans headers and asks gatehouse (%v), one for /oauth2 and /oauth2/ to gatehouse's proxy without asking (%v), and one for auth.example.com to the authserver (%v)", sawApp, sawOAuth, sawAuth)
	}
}

// TestNginxForwardAuth runs deploy/nginx/gatehouse.conf in a real nginx,
// with TLS, in front of gatehouse and the demo app.
func TestNginxForwardAuth(t *testing.T) {
	exe := os.Getenv("GATEHOUSE_TEST_NGINX")
	if exe == "" {
		t.Skip("GATEHOUSE_TEST_NGINX not set (path to nginx, e.g. /usr/sbin/nginx): skipping the nginx forward-auth test")
	}
	dir := t.TempDir()
	port := edgePort(t)
	certFile, keyFile, roots := edgeCertificate(t, dir, "app.example.com", "auth.example.com")
	e := &edge{
		name:    "nginx",
		appURL:  "https://app.example.com:" + port,
		authURL: "https://auth.example.com:" + port,
	}
	e.transport = edgeTransport("127.0.0.1:"+port, roots, "app.example.com", "auth.example.com")
	g := startEdgeGatehouse(t, e)

	conf := fillPlaceholders(t, "nginx/gatehouse.conf", readDeployFile(t, "nginx/gatehouse.conf"),
		"listen 443 ssl;", "listen 127.0.0.1:"+port+" ssl;",
		"/etc/letsencrypt/live/app.example.com/fullchain.pem", certFile,
		"/etc/letsencrypt/live/app.example.com/privkey.pem", keyFile,
		"/etc/letsencrypt/live/auth.example.com/fullchain.pem", certFile,
		"/etc/letsencrypt/live/auth.example.com/privkey.pem", keyFile,
		deployProxyAddr, g.proxyAddr,
		deployAuthAddr, g.authAddr,
		deployAppAddr, g.appAddr,
	)
	site := filepath.Join(dir, "gatehouse.conf")
	writeEdgeFile(t, site, conf)
	// The minimal main configuration around the shipped server blocks:
	// everything nginx writes stays in dir.
	user := ""
	if os.Geteuid() == 0 {
		// Workers would drop to nobody, who cannot enter dir.
		user = "user root;\n"
	}
	main := user + `daemon off;
worker_processes 1;
pid ` + filepath.Join(dir, "nginx.pid") + `;
error_log stderr info;
events { worker_connections 256; }
http {
    access_log ` + filepath.Join(dir, "access.log") + `;
    client_body_temp_path ` + filepath.Join(dir, "client_body") + `;
    proxy_temp_path ` + filepath.Join(dir, "proxy") + `;
    fastcgi_temp_path ` + filepath.Join(dir, "fastcgi") + `;
    uwsgi_temp_path ` + filepath.Join(dir, "uwsgi") + `;
    scgi_temp_path ` + filepath.Join(dir, "scgi") + `;
    include ` + site + `;
}
`
	mainConf := filepath.Join(dir, "nginx.conf")
	writeEdgeFile(t, mainConf, main)
	e.logs = startEdgeProcess(t, e, exec.Command(exe, "-e", "stderr", "-p", dir, "-c", mainConf), filepath.Join(dir, "access.log"))
	e.check(t)
}

// TestCaddyForwardAuth runs deploy/caddy/Caddyfile in a real Caddy, over
// plain HTTP on .localhost names, in front of gatehouse and the demo app.
func TestCaddyForwardAuth(t *testing.T) {
	exe := os.Getenv("GATEHOUSE_TEST_CADDY")
	if exe == "" {
		t.Skip("GATEHOUSE_TEST_CADDY not set (path to caddy, e.g. /usr/bin/caddy): skipping the Caddy forward-auth test")
	}
	dir := t.TempDir()
	port := edgePort(t)
	e := &edge{
		name:    "caddy",
		appURL:  "http://app.localhost:" + port,
		authURL: "http://auth.localhost:" + port,
	}
	e.transport = edgeTransport("127.0.0.1:"+port, nil, "app.localhost", "auth.localhost")
	g := startEdgeGatehouse(t, e)

	site := fillPlaceholders(t, "caddy/Caddyfile", readDeployFile(t, "caddy/Caddyfile"),
		"\napp.example.com {", "\n"+e.appURL+" {",
		"\nauth.example.com {", "\n"+e.authURL+" {",
		deployProxyAddr, g.proxyAddr,
		deployAuthAddr, g.authAddr,
		deployAppAddr, g.appAddr,
	)
	// Test-only global options: no admin endpoint, no certificates, and
	// loopback only.
	global := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n"
	caddyfile := filepath.Join(dir, "Caddyfile")
	writeEdgeFile(t, caddyfile, global+site)
	cmd := exec.Command(exe, "run", "--config", caddyfile, "--adapter", "caddyfile")
	home := filepath.Join(dir, "home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	e.logs = startEdgeProcess(t, e, cmd, "")
	e.check(t)
}

// edge is an edge proxy running a deploy configuration in front of
// gatehouse and the app.
type edge struct {
	name            string
	appURL, authURL string // origins as browsers see them
	transport       http.RoundTripper
	app             *recordingApp
	logs            func() string
}

// edgeGatehouse is where the edge configuration must send requests.
type edgeGatehouse struct {
	proxyAddr, authAddr, appAddr string
}

// startEdgeGatehouse starts gatehouse from deploy/gatehouse.yaml, with the
// edge's URLs and test-only secrets, and the demo app behind a recorder.
// gatehouse reaches its provider the way browsers do, through the edge.
func startEdgeGatehouse(t *testing.T, e *edge) edgeGatehouse {
	t.Helper()
	dir := t.TempDir()
	const name = "gatehouse.yaml"
	text := fillPlaceholders(t, name, readDeployFile(t, name),
		"https://app.example.com", e.appURL,
		"https://auth.example.com", e.authURL,
		"/var/lib/gatehouse/gatehouse.db", filepath.Join(dir, "gatehouse.db"),
	)
	clientHash, err := bcrypt.GenerateFromPassword([]byte(edgeClientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	text = replaceAll(t, name, text, `password_hash: "[^"]*"`, `password_hash: "`+testPasswordHash+`"`, 2)
	text = replaceAll(t, name, text, `secret_hash: "[^"]*"`, `secret_hash: "`+string(clientHash)+`"`, 1)
	text = replaceAll(t, name, text, `client_secret: \S+`, `client_secret: `+edgeClientSecret, 1)
	text = replaceAll(t, name, text, `"DEMO ONLY[^"]*"`, `"`+edgeCookieSecret+`"`, 2)
	path := filepath.Join(dir, name)
	writeEdgeFile(t, path, text)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = c.Logger(os.Stderr)
	}

	e.app = &recordingApp{next: demoapp.Handler()}
	appSrv := httptest.NewServer(e.app)
	t.Cleanup(appSrv.Close)

	store, err := backend.OpenStore(t.Context(), c, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	acfg, err := c.AuthServer(store, logger)
	if err != nil {
		t.Fatal(err)
	}
	as, err := authserver.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	authSrv := httptest.NewServer(as)
	t.Cleanup(authSrv.Close)

	sessions, err := backend.OpenSessions(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	pcfg, err := c.Proxy(sessions, logger)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.Provider.HTTPClient = &http.Client{Transport: e.transport, Timeout: 10 * time.Second}
	px, err := proxy.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := httptest.NewServer(px)
	t.Cleanup(proxySrv.Close)

	return edgeGatehouse{
		proxyAddr: proxySrv.Listener.Addr().String(),
		authAddr:  authSrv.Listener.Addr().String(),
		appAddr:   appSrv.Listener.Addr().String(),
	}
}

// edgePort is a free loopback port for the edge, which binds it itself.
func edgePort(t *testing.T) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

// edgeTransport connects the given host names, on any port, to the edge at
// addr, and nothing else: all traffic stays on loopback.
func edgeTransport(addr string, roots *x509.CertPool, hosts ...string) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, hostPort string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(hostPort)
			if err != nil || !slices.Contains(hosts, host) {
				return nil, fmt.Errorf("test transport: %s is not one of the edge's names %v", hostPort, hosts)
			}
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
}

// edgeCertificate writes a self-signed certificate for names, valid for an
// hour, and returns its files and a pool that trusts it.
func edgeCertificate(t *testing.T, dir string, names ...string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM := testcert.SelfSigned(t, names...)
	certFile, keyFile = filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	writeEdgeFile(t, certFile, string(certPEM))
	writeEdgeFile(t, keyFile, string(keyPEM))
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, roots
}

// writeEdgeFile writes a file only this test's user may read.
func writeEdgeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startEdgeProcess starts the edge proxy and waits until it serves the
// authserver's health check through the edge. It returns the edge's output
// (and access log, if any) for failure messages.
func startEdgeProcess(t *testing.T, e *edge, cmd *exec.Cmd, accessLog string) func() string {
	t.Helper()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that nginx's workers go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	logs := func() string {
		s := e.name + " output:\n" + out.String()
		if accessLog != "" {
			b, _ := os.ReadFile(accessLog)
			s += "\n" + e.name + " access log:\n" + string(b)
		}
		return s
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Log(logs())
		}
	})
	client := &http.Client{Transport: e.transport, Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(e.authURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", e.name, logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve %s/healthz: %v\n%s", e.name, e.authURL, err, logs())
		}
	}
}

// recordingApp is the demo app, remembering every request it receives, so
// that tests can tell what never reached it.
type recordingApp struct {
	mu   sync.Mutex
	seen []recordedRequest
	next http.Handler
}

type recordedRequest struct {
	method, uri string
	header      http.Header
	body        string
}

func (a *recordingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, recordedRequest{r.Method, r.RequestURI, r.Header.Clone(), string(body)})
	a.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	a.next.ServeHTTP(w, r)
}

// requests returns the requests whose target contains marker.
func (a *recordingApp) requests(marker string) []recordedRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []recordedRequest
	for _, r := range a.seen {
		if strings.Contains(r.uri, marker) {
			out = append(out, r)
		}
	}
	return out
}

// browser is a browser (cookies, redirects followed) that reaches the edge.
func (e *edge) browser(t *testing.T) *browser {
	b := newBrowser(t)
	b.client.Transport = e.transport
	return b
}

// client is a script: no redirects followed, and the cookies of b, if any.
func (e *edge) client(b *browser) *http.Client {
	c := &http.Client{
		Transport:     e.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	if b != nil {
		c.Jar = b.client.Jar
	}
	return c
}

// edgeResponse is an answer of the edge, read in full.
type edgeResponse struct {
	status int
	header http.Header
	body   string
}

func (r edgeResponse) String() string {
	return fmt.Sprintf("%d (Location %q, Content-Type %q):\n%.600s", r.status, r.header.Get("Location"), r.header.Get("Content-Type"), r.body)
}

// send sends a request to the app's host. rawPath goes on the wire as it
// is, dots and escapes included.
func (e *edge) send(t *testing.T, c *http.Client, method, rawPath string, header map[string]string, body string) edgeResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.appURL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + req.URL.Host + rawPath
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return edgeResponse{resp.StatusCode, resp.Header, string(b)}
}

var (
	edgeAcceptHTML = map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
	edgeAcceptJSON = map[string]string{"Accept": "application/json"}
)

// withHeaders is base with more headers, given as name, value, ...
func withHeaders(base map[string]string, more ...string) map[string]string {
	h := map[string]string{}
	for k, v := range base {
		h[k] = v
	}
	for i := 0; i < len(more); i += 2 {
		h[more[i]] = more[i+1]
	}
	return h
}

// spoofedHeaders are headers a client makes up to pass for someone else or to
// make the app serve another page than the one gatehouse allowed. Every
// value says "mallory", so that any of them reaching the app shows.
var spoofedHeaders = map[string]string{
	"X-Forwarded-User":               "mallory",
	"X-Forwarded-Email":              "mallory@evil.example",
	"X-Forwarded-Preferred-Username": "mallory",
	"X-Forwarded-Groups":             "admins,mallory",
	"X-Forwarded_User":               "mallory",
	"X_Forwarded_Groups":             "admins,mallory",
	"X-Original-URL":                 "/admin/mallory",
	"X-Original-Method":              "MALLORY",
	"X-Rewrite-URL":                  "/admin/mallory",
	"X-Forwarded-Uri":                "/admin/mallory",
	"X-Forwarded-Method":             "MALLORY",
	"X-Forwarded-Prefix":             "/mallory",
	"X-Forwarded-Host":               "mallory.example",
	"X-Forwarded-Proto":              "mallory",
	"X-Forwarded-For":                "mallory",
	"X-Real-Ip":                      "mallory",
	"Forwarded":                      "for=mallory;host=mallory.example",
}

// checkNoSpoof fails if anything a client made up reached the app.
func checkNoSpoof(t *testing.T, r recordedRequest) {
	t.Helper()
	for name, values := range r.header {
		for _, v := range values {
			if strings.Contains(strings.ToLower(name+": "+v), "mallory") {
				t.Errorf("the app received %s: %q from the client", name, v)
			}
		}
	}
}

// check walks the edge as anonymous visitors, API clients and two signed-in
// people, and checks what the app receives.
func (e *edge) check(t *testing.T) {
	anonymous := e.client(nil)

	t.Run("API request without session gets 401", func(t *testing.T) {
		r := e.send(t, anonymous, http.MethodGet, "/api/items-401?page=2", edgeAcceptJSON, "")
		if r.status != http.StatusUnauthorized || r.header.Get("Location") != "" {
			t.Fatalf("got %s\nwant 401 without a redirect", r)
		}
		if !strings.HasPrefix(r.header.Get("Www-Authenticate"), "Bearer") || !strings.Contains(r.header.Get("Content-Type"), "json") {
			t.Errorf("the 401 is not gatehouse's (WWW-Authenticate %q): %s", r.header.Get("Www-Authenticate"), r)
		}
		// A browser's fetch() asking for HTML is no navigation either.
		r = e.send(t, anonymous, http.MethodGet, "/api/items-401", withHeaders(edgeAcceptHTML, "Sec-Fetch-Mode", "cors"), "")
		if r.status != http.StatusUnauthorized {
			t.Errorf("fetch() without session: got %s\nwant 401", r)
		}
		r = e.send(t, anonymous, http.MethodPost, "/api/items-401", withHeaders(edgeAcceptHTML, "Content-Type", "application/x-www-form-urlencoded"), "a=1")
		if r.status != http.StatusUnauthorized {
			t.Errorf("POST without session: got %s\nwant 401", r)
		}
		if seen := e.app.requests("items-401"); len(seen) > 0 {
			t.Errorf("the app received requests without a session: %v", seen)
		}
	})

	t.Run("browser without session is sent to sign in", func(t *testing.T) {
		r := e.send(t, anonymous, http.MethodGet, "/dashboard-302?tab=1", edgeAcceptHTML, "")
		want := e.appURL + "/oauth2/start?rd=" + url.QueryEscape(e.appURL+"/dashboard-302?tab=1")
		if r.status != http.StatusFound || r.header.Get("Location") != want {
			t.Fatalf("got %s\nwant 302 to %s", r, want)
		}
		if seen := e.app.requests("dashboard-302"); len(seen) > 0 {
			t.Errorf("the app received a request without a session: %v", seen)
		}
	})

	t.Run("public route needs no session and gets no identity", func(t *testing.T) {
		r := e.send(t, anonymous, http.MethodGet, "/public/hello-public", withHeaders(edgeAcceptJSON, headerPairs(spoofedHeaders)...), "")
		if r.status != http.StatusOK {
			t.Fatalf("got %s\nwant 200", r)
		}
		seen := e.app.requests("hello-public")
		if len(seen) != 1 {
			t.Fatalf("the app received %d requests, want 1", len(seen))
		}
		checkNoSpoof(t, seen[0])
		for h := range proxy.HeaderPresets["forwarded"] {
			if v, ok := seen[0].header[h]; ok {
				t.Errorf("the app received %s: %q on a public route", h, v)
			}
		}
	})

	// The person signs in through the edge: app page, sign-in, the
	// authserver's login and consent pages, back to the page first asked for.
	staff := e.browser(t)
	signedInOK := t.Run("sign-in through the edge", func(t *testing.T) {
		start := e.appURL + "/dashboard?tab=1"
		p := signIn(t, staff, start, edgeStaffUser, testPassword)
		if p.Status != http.StatusOK || p.URL.String() != start {
			t.Fatalf("after sign-in: at %s with %d, want %s with 200:\n%s", p.URL, p.Status, start, p.Body)
		}
		if !strings.Contains(p.Body, "Hello, "+edgeStaffUser+"!") || !strings.Contains(p.Body, "demo@example.com") {
			t.Errorf("the demo app does not show who signed in:\n%s", p.Body)
		}
		var session bool
		for _, c := range staff.client.Jar.Cookies(mustURL(t, e.appURL)) {
			// An https public_url gives the cookie the __Host- prefix.
			session = session || strings.TrimPrefix(c.Name, "__Host-") == proxy.DefaultCookieName
		}
		if !session {
			t.Errorf("no %s cookie on %s", proxy.DefaultCookieName, e.appURL)
		}
		// The login and consent pages came through the edge, by its name.
		if len(staff.client.Jar.Cookies(mustURL(t, e.authURL))) == 0 {
			t.Errorf("no authserver cookies on %s", e.authURL)
		}
	})
	if !signedInOK {
		return
	}
	signedIn := e.client(staff)

	t.Run("allowed route gets identity, never the client's", func(t *testing.T) {
		want := map[string]string{
			"X-Forwarded-User":               edgeStaffUser,
			"X-Forwarded-Email":              "demo@example.com",
			"X-Forwarded-Preferred-Username": edgeStaffUser,
			"X-Forwarded-Groups":             "staff",
		}
		for name, header := range map[string]map[string]string{"plain": edgeAcceptJSON, "spoofed": withHeaders(edgeAcceptJSON, headerPairs(spoofedHeaders)...)} {
			marker := "whoami-" + name
			r := e.send(t, signedIn, http.MethodGet, "/"+marker, header, "")
			if r.status != http.StatusOK {
				t.Fatalf("%s: got %s\nwant 200", name, r)
			}
			seen := e.app.requests(marker)
			if len(seen) != 1 {
				t.Fatalf("%s: the app received %d requests, want 1", name, len(seen))
			}
			for k, v := range want {
				if got := seen[0].header[k]; len(got) != 1 || got[0] != v {
					t.Errorf("%s: the app received %s: %q, want exactly %q", name, k, got, v)
				}
			}
			checkNoSpoof(t, seen[0])
		}
	})

	t.Run("refused route never reaches the app", func(t *testing.T) {
		r := e.send(t, signedIn, http.MethodGet, "/admin/users-403", edgeAcceptHTML, "")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "have access") {
			t.Errorf("got %s\nwant gatehouse's 403 page", r)
		}
		r = e.send(t, signedIn, http.MethodGet, "/admin/users-403", edgeAcceptJSON, "")
		if r.status != http.StatusForbidden {
			t.Errorf("API client: got %s\nwant 403", r)
		}
		if seen := e.app.requests("users-403"); len(seen) > 0 {
			t.Errorf("the app received refused requests: %v", seen)
		}
	})

	t.Run("other spellings of a refused route are refused too", func(t *testing.T) {
		attempts := []struct {
			path   string
			header map[string]string
		}{
			{"/ADMIN/bypass-case", nil},
			{"/public/../admin/bypass-dots", nil},
			{"/public/%2e%2e/admin/bypass-encoded-dots", nil},
			{"/public//../admin/bypass-slashes", nil},
			{"//admin/bypass-leading-slashes", nil},
			{"/admin/bypass-original-url", map[string]string{"X-Original-URL": e.appURL + "/public/x", "X-Original-Method": "GET"}},
			{"/admin/bypass-forwarded-uri", map[string]string{"X-Forwarded-Uri": "/public/x", "X-Forwarded-Method": "GET"}},
			{"/admin/bypass-forwarded-host", map[string]string{"X-Forwarded-Host": "elsewhere.example", "X-Forwarded-Proto": "https"}},
		}
		for _, a := range attempts {
			for _, c := range []*http.Client{signedIn, anonymous} {
				r := e.send(t, c, http.MethodGet, a.path, withHeaders(edgeAcceptJSON, headerPairs(a.header)...), "")
				if r.status == http.StatusOK || r.status/100 == 3 && c == signedIn {
					t.Errorf("%s %v: got %s", a.path, a.header, r)
				}
				if c == signedIn {
					t.Logf("%s %v: %d", a.path, a.header, r.status)
				}
			}
			marker := a.path[strings.LastIndex(a.path, "/"):]
			if seen := e.app.requests(marker); len(seen) > 0 {
				t.Errorf("%s %v reached the app as %s", a.path, a.header, seen[0].uri)
			}
		}
	})

	// gatehouse answers the edge's question about its own paths with 200
	// and no identity, so the edge must send all of them to gatehouse
	// itself, however spelled, never to the app.
	t.Run("gatehouse's own paths never reach the app", func(t *testing.T) {
		for _, path := range []string{"/oauth2", "/oauth2?x=1", "/oauth2/", "/oauth2/nothing", "//oauth2/start", "/./oauth2/start", "/x/../oauth2/start", "/%6fauth2/start"} {
			clients := []*http.Client{signedIn, anonymous}
			if strings.HasSuffix(path, "/start") {
				// Starting a sign-in ends the session the browser had.
				clients = clients[1:]
			}
			for _, c := range clients {
				r := e.send(t, c, http.MethodGet, path, edgeAcceptJSON, "")
				if r.status == http.StatusOK {
					t.Errorf("%s: got %s", path, r)
				}
			}
		}
		if seen := e.app.requests("oauth2"); len(seen) > 0 {
			t.Errorf("the app received gatehouse's paths: %v", seen)
		}
	})

	t.Run("request body reaches the app", func(t *testing.T) {
		const form = "note=hello&n=42"
		r := e.send(t, signedIn, http.MethodPost, "/notes-post", withHeaders(edgeAcceptJSON, "Content-Type", "application/x-www-form-urlencoded"), form)
		if r.status != http.StatusOK {
			t.Fatalf("got %s\nwant 200", r)
		}
		if seen := e.app.requests("notes-post"); len(seen) != 1 || seen[0].body != form || seen[0].method != http.MethodPost {
			t.Errorf("the app received %+v, want one POST with body %q", seen, form)
		}
	})

	t.Run("gatehouse's pages are served on the app's host", func(t *testing.T) {
		r := e.send(t, signedIn, http.MethodGet, "/oauth2/userinfo", edgeAcceptJSON, "")
		if r.status != http.StatusOK || !strings.Contains(r.body, `"demo@example.com"`) {
			t.Errorf("userinfo: got %s", r)
		}
		// Only the edge asks /oauth2/auth.
		r = e.send(t, anonymous, http.MethodGet, "/oauth2/auth", withHeaders(edgeAcceptJSON, "X-Forwarded-Uri", "/admin", "X-Forwarded-Method", "GET"), "")
		if r.status != http.StatusNotFound {
			t.Errorf("/oauth2/auth from a client: got %s\nwant 404", r)
		}
	})

	t.Run("admin passes the admin route", func(t *testing.T) {
		admin := e.browser(t)
		signIn(t, admin, e.appURL+"/", edgeAdminUser, testPassword)
		r := e.send(t, e.client(admin), http.MethodGet, "/admin/users-admin", edgeAcceptJSON, "")
		if r.status != http.StatusOK {
			t.Fatalf("got %s\nwant 200", r)
		}
		var v struct {
			Identity map[string]string `json:"identity"`
		}
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatalf("demo app answer: %v\n%s", err, r.body)
		}
		if v.Identity["X-Forwarded-User"] != edgeAdminUser || v.Identity["X-Forwarded-Groups"] != "staff,admins" {
			t.Errorf("the app received the identity %v", v.Identity)
		}
	})

	t.Run("sign-out ends the session", func(t *testing.T) {
		r := e.send(t, signedIn, http.MethodGet, "/oauth2/sign_out", edgeAcceptHTML, "")
		token := regexp.MustCompile(`name="token" value="([^"]*)"`).FindStringSubmatch(r.body)
		if r.status != http.StatusOK || token == nil {
			t.Fatalf("sign-out page: got %s", r)
		}
		form := "token=" + url.QueryEscape(html.UnescapeString(token[1]))
		r = e.send(t, signedIn, http.MethodPost, "/oauth2/sign_out", withHeaders(edgeAcceptHTML, "Content-Type", "application/x-www-form-urlencoded"), form)
		if r.status/100 != 3 {
			t.Fatalf("sign-out: got %s", r)
		}
		r = e.send(t, signedIn, http.MethodGet, "/dashboard-after", edgeAcceptHTML, "")
		if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), e.appURL+"/oauth2/start?") {
			t.Errorf("after sign-out: got %s\nwant 302 to sign in", r)
		}
	})
}

// headerPairs lists h as name, value, ... for withHeaders.
func headerPairs(h map[string]string) []string {
	var out []string
	for k, v := range h {
		out = append(out, k, v)
	}
	return out
}
