package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// waitLimit bounds every wait for the servers; it guards against hanging
// and is never what a test measures.
const waitLimit = 10 * time.Second

// reloadConfig is a configuration with an authserver, whose clients
// include a service that gets tokens with client_credentials, and a proxy
// with public routes. The tests edit it and reload it. Every secret is a
// demo value for these tests only.
const reloadConfig = `log: {level: info}
reload: {watch: WATCH, interval: 100ms}
authserver:
  listen: 127.0.0.1:AUTHPORT
  issuer: http://127.0.0.1:AUTHPORT
  cookie_secrets: ["demo-only-authserver-cookie-secret-0123"]
  storage: {type: memory}
  users:
    - {id: alice, password_hash: "HASH"}
  clients:
    - id: gatehouse-proxy
      secret: demo-only-proxy-client-secret
      redirect_uris: [http://127.0.0.1:PROXYPORT/oauth2/callback]
    - id: service
      secret: demo-only-service-secret
      grant_types: [client_credentials]
proxy:
  listen: 127.0.0.1:PROXYPORT
  public_url: http://127.0.0.1:PROXYPORT
  provider: {issuer: http://127.0.0.1:AUTHPORT, client_id: gatehouse-proxy, client_secret: demo-only-proxy-client-secret}
  cookie: {secrets: ["demo-only-proxy-cookie-secret-01234567"]}
  routes:
    - {path: /a, upstream: "UPSTREAM", public: true}
`

// served is `gatehouse serve` running in this process.
type served struct {
	t         *testing.T
	path      string // the configuration file
	config    string // its content as last written
	logs      *syncbuf.Buffer
	auth      string // base URLs
	proxy     string
	upstreams map[string]string // name → URL
}

// startServe writes reloadConfig, with watch set as given, to a file that
// is a symlink into a folder that is itself a symlink, the way Kubernetes
// mounts a ConfigMap, and runs `gatehouse serve` on it until the test ends.
func startServe(t *testing.T, watch bool) *served {
	t.Helper()
	s := &served{t: t, logs: &syncbuf.Buffer{}, upstreams: map[string]string{}}
	for _, name := range []string{"a", "b", "c", "d"} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "upstream "+name)
		}))
		t.Cleanup(up.Close)
		s.upstreams[name] = up.URL
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("alice's demo password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	authPort, proxyPort := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	s.auth, s.proxy = "http://127.0.0.1:"+authPort, "http://127.0.0.1:"+proxyPort
	s.config = strings.NewReplacer("WATCH", fmt.Sprint(watch), "AUTHPORT", authPort, "PROXYPORT", proxyPort,
		"HASH", string(hash), "UPSTREAM", s.upstreams["a"]).Replace(reloadConfig)

	dir := t.TempDir()
	s.path = filepath.Join(dir, "config.yaml")
	s.swap("v1", s.config)
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), s.path); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", s.path}, nil, io.Discard, s.logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("logs:\n%s", s.logs)
		}
	})
	// SIGHUP before the reloader listens for it would end the test binary.
	s.waitLog("configuration reloads on SIGHUP")
	return s
}

// swap puts content in a new folder named version and points the ..data
// symlink there in one rename, as the kubelet updates a ConfigMap volume.
func (s *served) swap(version, content string) {
	s.t.Helper()
	dir := filepath.Dir(s.path)
	if err := os.Mkdir(filepath.Join(dir, version), 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, version, "config.yaml"), []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
	s.config = content
}

// rewrite replaces the file the symlinks lead to, as an editor saves:
// a new file renamed over the old one.
func (s *served) rewrite(content string) {
	s.t.Helper()
	target, err := filepath.EvalSymlinks(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	tmp := target + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, target); err != nil {
		s.t.Fatal(err)
	}
	s.config = content
}

// withRoute is the configuration with one more public route.
func (s *served) withRoute(path, upstream string) string {
	return s.config + fmt.Sprintf("    - {path: %s, upstream: %q, public: true}\n", path, s.upstreams[upstream])
}

// waitLog waits until the logs contain want n times (once when n is 0).
func (s *served) waitLog(want string, n ...int) {
	s.t.Helper()
	count := 1
	if len(n) > 0 {
		count = n[0]
	}
	s.waitFor(fmt.Sprintf("%d× %q in the logs", count, want), func() bool { return strings.Count(s.logs.String(), want) >= count })
}

// waitFor polls cond until it holds.
func (s *served) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("waited %s for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get fetches path at the proxy and returns the status and body.
func (s *served) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.proxy + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// serviceToken asks the authserver for a token as client service with
// its secret and returns the status.
func (s *served) serviceToken(secret ...string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.auth+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("service", append(secret, "demo-only-service-secret")[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// withoutService is the configuration without client service.
func (s *served) withoutService() string {
	return strings.Replace(s.config, "    - id: service\n      secret: demo-only-service-secret\n      grant_types: [client_credentials]\n", "", 1)
}

// TestReloadOnSIGHUP runs the real command and sends the process a real
// SIGHUP after changing the file: the new route serves, the removed client
// gets no more tokens, and the new log level applies.
func TestReloadOnSIGHUP(t *testing.T) {
	s := startServe(t, false)
	if status := s.serviceToken(); status != http.StatusOK {
		t.Fatalf("token for client service before the reload: got %d, want 200", status)
	}
	if status, _ := s.get("/b"); status != http.StatusNotFound {
		t.Fatalf("GET /b before the reload: got %d, want 404", status)
	}
	s.rewrite(s.withRoute("/b", "b"))
	s.rewrite(strings.Replace(s.withoutService(), "log: {level: info}", "log: {level: debug}", 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("configuration reloaded")
	if status, body := s.get("/b"); status != http.StatusOK || body != "upstream b" {
		t.Errorf("GET /b after the reload: got %d %q, want 200 from upstream b", status, body)
	}
	if status := s.serviceToken(); status != http.StatusUnauthorized {
		t.Errorf("token for the removed client service: got %d, want 401", status)
	}
	// At debug level the proxy says why a public route needs no sign-in.
	if want := `level=DEBUG msg="no sign-in needed" server=proxy route=/b`; !strings.Contains(s.logs.String(), want) {
		t.Errorf("log.level debug: the logs lack %s", want)
	}
	for _, want := range []string{"reason=SIGHUP", `changed="authserver.clients, log.level, proxy.routes"`, "users=1 clients=1 routes=2"} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("the reload's log line lacks %s", want)
		}
	}
	if strings.Contains(s.logs.String(), "demo-only-service-secret") {
		t.Error("the logs contain a client secret")
	}
}

// TestReloadWatch has the watcher pick up a rewritten file, a rewritten
// secret file and a symlink swap, refuse an invalid file while the old
// configuration serves on, and report the fields that need a restart.
func TestReloadWatch(t *testing.T) {
	s := startServe(t, true)

	t.Run("a rewritten file", func(t *testing.T) {
		s.t = t
		s.rewrite(s.withRoute("/b", "b"))
		s.waitFor("route /b", func() bool { status, _ := s.get("/b"); return status == http.StatusOK })
		s.waitLog("reason=\"file changed\"")
	})
	t.Run("an invalid file is refused", func(t *testing.T) {
		s.t = t
		valid := s.config
		s.rewrite(s.withRoute("/bad", "a") + "    - {path: /worse, upstream: \"ftp://nowhere\"}\n")
		s.waitLog("configuration not reloaded")
		line := regexp.MustCompile(`level=ERROR msg="configuration not reloaded; the running configuration stays" reason="file changed" err="invalid configuration: [^"]*config\.yaml:26: proxy\.routes\[3\]\.upstream: `)
		if !line.MatchString(s.logs.String()) {
			t.Errorf("no error line naming config.yaml:26 and proxy.routes[3].upstream in the logs")
		}
		if status, body := s.get("/b"); status != http.StatusOK || body != "upstream b" {
			t.Errorf("GET /b after a refused reload: got %d %q, want the running route's 200", status, body)
		}
		if status, _ := s.get("/bad"); status != http.StatusNotFound {
			t.Errorf("GET /bad from the refused file: got %d, want 404", status)
		}
		s.config = valid
	})
	t.Run("fields that need a restart", func(t *testing.T) {
		s.t = t
		next := strings.Replace(s.withRoute("/c", "c"), "demo-only-proxy-cookie-secret-01234567", "demo-only-proxy-cookie-secret-76543210", 1)
		next = strings.Replace(next, "log: {level: info}", "log: {level: info, format: json}", 1)
		s.rewrite(next)
		s.waitFor("route /c", func() bool { status, _ := s.get("/c"); return status == http.StatusOK })
		s.waitLog(`msg="configuration changes need a restart to take effect; the running values stay" fields="log.format, proxy.cookie.secrets"`)
	})
	t.Run("a secret file rewritten", func(t *testing.T) {
		s.t = t
		secretFile := filepath.Join(filepath.Dir(s.path), "service.secret")
		write := func(secret string) {
			if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("demo-only-service-secret-one")
		reloads := strings.Count(s.logs.String(), "configuration reloaded")
		s.rewrite(strings.Replace(s.config, "      secret: demo-only-service-secret\n", "      secret_file: service.secret\n", 1))
		s.waitLog("configuration reloaded", reloads+1)
		if status := s.serviceToken("demo-only-service-secret-one"); status != http.StatusOK {
			t.Fatalf("token with the secret from the file: got %d, want 200", status)
		}
		write("demo-only-service-secret-two")
		s.waitLog("configuration reloaded", reloads+2)
		if status := s.serviceToken("demo-only-service-secret-two"); status != http.StatusOK {
			t.Errorf("token with the rewritten secret: got %d, want 200", status)
		}
		if status := s.serviceToken("demo-only-service-secret-one"); status != http.StatusUnauthorized {
			t.Errorf("token with the replaced secret: got %d, want 401", status)
		}
	})
	t.Run("a symlink swap", func(t *testing.T) {
		s.t = t
		s.swap("v2", s.withRoute("/d", "d"))
		s.waitFor("route /d", func() bool { status, _ := s.get("/d"); return status == http.StatusOK })
		// The restart-needed fields still differ from the running ones.
		s.waitLog("fields=\"log.format, proxy.cookie.secrets\"", 4)
	})
	s.t = t
}
