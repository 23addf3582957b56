package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadYAML writes yaml to a config file and loads it.
func loadYAML(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return load(path, func(string) (string, bool) { return "", false })
}

func TestMetricsSection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string // in the error; "" when the file loads
	}{
		{"absent", minimalAuth, ""},
		{"loopback", minimalAuth + "metrics: {listen: \"127.0.0.1:9100\"}\n", ""},
		{"no listen", minimalAuth + "metrics: {}\n", ":12: metrics.listen: is required"},
		{"not host:port", minimalAuth + "metrics: {listen: \"9100\"}\n", ":12: metrics.listen: \"9100\" is not host:port"},
		{"authserver's address", minimalAuth + "  listen: \"127.0.0.1:9000\"\nmetrics: {listen: \"127.0.0.1:9000\"}\n", "metrics.listen: \"127.0.0.1:9000\" is also authserver.listen"},
		{"unknown field", minimalAuth + "metrics: {listen: \"127.0.0.1:9100\", path: /m}\n", ":12: metrics.path: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, tc.yaml)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got %v, want the file to load", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case tc.want == "" && strings.Contains(tc.yaml, "metrics:") && c.File.Metrics.Listen != "127.0.0.1:9100":
				t.Errorf("metrics.listen: got %+v, want 127.0.0.1:9100", c.File.Metrics)
			case tc.want == "" && !strings.Contains(tc.yaml, "metrics:") && c.File.Metrics != nil:
				t.Errorf("metrics: got %+v for a file without the section, want nil (off)", c.File.Metrics)
			}
		})
	}
}

func TestAccessLogSwitch(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		want      bool
	}{
		{"default", "", true},
		{"on", "log: {access: true}\n", true},
		{"off", "log: {access: false}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadYAML(t, strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]", 1)+proxyFor("c", "s", "http://localhost:8000")+tc.log)
			if err != nil {
				t.Fatal(err)
			}
			a, err := c.AuthServer(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Proxy(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.AccessLog != tc.want || p.AccessLog != tc.want {
				t.Errorf("AccessLog: authserver %v, proxy %v, want %v", a.AccessLog, p.AccessLog, tc.want)
			}
		})
	}
}
