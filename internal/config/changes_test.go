package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testcert"
)

func TestReloadAndShutdownSettings(t *testing.T) {
	c := loadString(t, minimalAuth)
	if got := c.File.Reload; got.Watch || got.Interval != DefaultReloadInterval {
		t.Errorf("reload: got %+v, want no watching, interval %s", got, DefaultReloadInterval)
	}
	if got := c.File.ShutdownTimeout; got != DefaultShutdownTimeout {
		t.Errorf("shutdown_timeout: got %s, want %s", got, DefaultShutdownTimeout)
	}
	c = loadString(t, minimalAuth+"reload: {watch: true, interval: 500ms}\nshutdown_timeout: 1m\n")
	if got := c.File.Reload; !got.Watch || got.Interval != 500*time.Millisecond || c.File.ShutdownTimeout != time.Minute {
		t.Errorf("got reload %+v, shutdown_timeout %s; want watching every 500ms, 1m", got, c.File.ShutdownTimeout)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"negative interval", "reload:\n  interval: -1s\n", ":13: reload.interval: -1s is too short"},
		{"interval without unit", "reload:\n  interval: 2\n", ":13: reload.interval: got \"2\", want a duration with a unit"},
		{"negative shutdown timeout", "shutdown_timeout: -5s\n", ":12: shutdown_timeout: must be a positive duration"},
		{"watch not a bool", "reload: {watch: often}\n", ":12: reload.watch: got \"often\", want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkProblem(t, minimalAuth+tc.yaml, tc.want) })
	}
}

// TestChanges loads a file, changes it (or a secret file it reads) and
// loads it again, and checks which fields Changes says a reload applies
// and which need a restart.
func TestChanges(t *testing.T) {
	base := strings.Replace(minimalAuth, "      secret: s\n", "      secret_file: client.secret\n", 1) +
		proxyFor("c", "s", "http://localhost:8000")
	// The proxy signs in elsewhere, so its secret need not match client c's.
	base = strings.Replace(base, "issuer: http://localhost:9000, client_id", "issuer: https://idp.example.com, client_id", 1)
	base = strings.Replace(base, `cookie: {secrets: ["0123456789abcdef0123456789abcdef"]}`, "cookie: {secrets_file: cookie.secrets}", 1)
	const secretA, secretB = "client secret A", "client secret B"
	const cookieA, cookieB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	for _, tc := range []struct {
		name          string
		edit          func(string) string
		clientSecret  string
		cookieSecret  string
		wantApplied   []string
		wantRestarted []string
	}{
		{name: "nothing", edit: same},
		{
			name: "a user added",
			edit: func(s string) string {
				return strings.Replace(s, "  clients:\n", "    - {id: v, password_hash: \"$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW\"}\n  clients:\n", 1)
			},
			wantApplied: []string{"authserver.users"},
		},
		{name: "a client's secret file rewritten", edit: same, clientSecret: secretB, wantApplied: []string{"authserver.clients"}},
		{name: "a route changed", edit: replace("http://127.0.0.1:1", "http://127.0.0.1:2"), wantApplied: []string{"proxy.routes"}},
		{name: "log level", edit: appendText("log: {level: debug}\n"), wantApplied: []string{"log.level"}},
		{
			name: "reloadable and restart fields together",
			edit: func(s string) string {
				return replace("127.0.0.1:1", "127.0.0.1:2")(s) + "log: {level: warn, format: json}\n"
			},
			wantApplied:   []string{"log.level", "proxy.routes"},
			wantRestarted: []string{"log.format"},
		},
		{name: "the cookie secrets file rewritten", edit: same, cookieSecret: cookieB, wantRestarted: []string{"proxy.cookie.secrets"}},
		{name: "a listen address", edit: appendText("  listen: 127.0.0.1:8001\n"), wantRestarted: []string{"proxy.listen"}},
		{name: "the store type", edit: replace("storage: {type: memory}", "storage: {type: sqlite}"), wantRestarted: []string{"authserver.storage.sqlite", "authserver.storage.type"}},
		{name: "shutdown timeout and watching", edit: appendText("shutdown_timeout: 3s\nreload: {watch: true}\n"), wantRestarted: []string{"reload.watch", "shutdown_timeout"}},
		{name: "a section removed", edit: func(s string) string { return s[:strings.Index(s, "proxy:")] }, wantRestarted: []string{"proxy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) {
				t.Helper()
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "config.yaml")
			write("config.yaml", base)
			write("client.secret", secretA)
			write("cookie.secrets", cookieA)
			old, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			write("config.yaml", tc.edit(base))
			if tc.clientSecret != "" {
				write("client.secret", tc.clientSecret)
			}
			if tc.cookieSecret != "" {
				write("cookie.secrets", tc.cookieSecret)
			}
			next, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			applied, restart := Changes(old, next)
			slices.Sort(applied)
			slices.Sort(restart)
			if !slices.Equal(applied, tc.wantApplied) || !slices.Equal(restart, tc.wantRestarted) {
				t.Errorf("got applied %q, restart %q; want applied %q, restart %q", applied, restart, tc.wantApplied, tc.wantRestarted)
			}
			for _, f := range append(applied, restart...) {
				for _, secret := range []string{secretA, secretB, cookieA, cookieB} {
					if strings.Contains(f, secret) {
						t.Errorf("field %q reveals a secret", f)
					}
				}
			}
		})
	}
}

func same(s string) string { return s }

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

func appendText(more string) func(string) string {
	return func(s string) string { return s + more }
}

func loadString(t *testing.T, yaml string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	certPEM, _ := testcert.SelfSigned(t, "127.0.0.1")
	yaml := strings.Replace(minimalAuth, "      secret: s\n", "      secret_file: secrets/client\n", 1) +
		strings.Replace(proxyFor("c", "s", "http://localhost:8000"), `cookie: {secrets: ["0123456789abcdef0123456789abcdef"]}`, "cookie: {secrets_file: cookie.secrets}", 1)
	yaml = strings.Replace(yaml, "}]\n", "}, {path: /tls, upstream: \"https://127.0.0.1:2\", tls: {ca_file: ca.pem}}]\n", 1)
	yaml = strings.Replace(yaml, "issuer: http://localhost:9000, client_id", "issuer: https://idp.example.com, client_id", 1)
	for name, content := range map[string]string{
		"config.yaml":    yaml,
		"secrets/client": "demo-only client secret",
		"cookie.secrets": "0123456789abcdef0123456789abcdef",
		"ca.pem":         string(certPEM),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Files()
	want := []string{filepath.Join(dir, "config.yaml"), filepath.Join(dir, "secrets/client"), filepath.Join(dir, "cookie.secrets"), ca}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
