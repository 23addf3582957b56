package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// riskBase is a configuration with no risky setting; each case of
// TestRisks changes one thing. The secrets are random test values.
const riskBase = `authserver:
  issuer: https://login.example.com
  cookie_secrets: ["q8Jx2W0bY5vN3kT7mH1cR9dL4pZ6sF0aG2eU8iO5wQz="]
  users: [{id: u, password_hash: "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"}]
  clients:
    - id: app
      secret: "Vt3nQ9xK2mB7pL0sW5rJ8cY1hF4gD6zA"
      redirect_uris: [https://app.example.com/oauth2/callback]
proxy:
  public_url: https://app.example.com
  provider: {issuer: https://login.example.com, client_id: app, client_secret: "Vt3nQ9xK2mB7pL0sW5rJ8cY1hF4gD6zA"}
  cookie: {secrets: ["Zr5Lq1Xw8Ct3Nv6Bm0Pk4Hj7Gf2Ds9Ae5Ty1Ui8Oo3I="]}
  allowed_redirect_domains: [.example.com]
  routes:
    - {path: /, upstream: "http://127.0.0.1:8081"}
`

func loadRiskConfig(t *testing.T, yaml string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRisks(t *testing.T) {
	if c := loadRiskConfig(t, riskBase); len(c.Risks) > 0 {
		t.Fatalf("the base configuration has risks %v, want none", c.Risks)
	}
	for _, tc := range []struct {
		name  string
		edits []string // old, new, ...
		// want are the risks expected, each as the field and a part of
		// its message.
		want [][2]string
	}{
		{
			name:  "http issuer off this machine",
			edits: []string{"  issuer: https://login.example.com\n", "  issuer: http://login.example.com\n  insecure_allow_http: true\n"},
			want:  [][2]string{{"authserver.issuer", "uses http on another host"}},
		},
		{
			name: "http public_url off this machine",
			edits: []string{
				"  public_url: https://app.example.com\n", "  public_url: http://app.example.com\n  insecure_allow_http: true\n",
				"cookie: {secrets:", "cookie: {secure: true, secrets:",
				"redirect_uris: [https:", "redirect_uris: [http:",
			},
			want: [][2]string{{"proxy.public_url", "uses http on another host"}},
		},
		{
			name:  "secure cookies off",
			edits: []string{`cookie: {secrets:`, `cookie: {secure: false, secrets:`},
			want:  [][2]string{{"proxy.cookie.secure", "is off for app.example.com"}},
		},
		{
			name:  "short cookie secret",
			edits: []string{"q8Jx2W0bY5vN3kT7mH1cR9dL4pZ6sF0aG2eU8iO5wQz=", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
			want:  [][2]string{{"authserver.cookie_secrets[0]", "about 0 bits of entropy, less than the 256"}},
		},
		{
			name:  "passphrase cookie secret",
			edits: []string{"Zr5Lq1Xw8Ct3Nv6Bm0Pk4Hj7Gf2Ds9Ae5Ty1Ui8Oo3I=", "correct horse battery staple correct"},
			want:  [][2]string{{"proxy.cookie.secrets[0]", "less than the 256"}},
		},
		{
			name:  "weak client secret",
			edits: []string{"Vt3nQ9xK2mB7pL0sW5rJ8cY1hF4gD6zA", "client-secret-1", "Vt3nQ9xK2mB7pL0sW5rJ8cY1hF4gD6zA", "client-secret-1"},
			want:  [][2]string{{"authserver.clients[0].secret", "less than the 128"}, {"proxy.provider.client_secret", "less than the 128"}},
		},
		{
			name:  "redirect domain that is a public suffix",
			edits: []string{"allowed_redirect_domains: [.example.com]", "allowed_redirect_domains: [.co.uk]"},
			want:  [][2]string{{"proxy.allowed_redirect_domains[0]", "any site under co.uk"}},
		},
		{
			name:  "redirect domain under a private public suffix",
			edits: []string{"allowed_redirect_domains: [.example.com]", "allowed_redirect_domains: [.github.io]"},
			want:  [][2]string{{"proxy.allowed_redirect_domains[0]", "anyone can register"}},
		},
		{
			name: "public host route shadows a protected path",
			edits: []string{"    - {path: /, upstream: \"http://127.0.0.1:8081\"}\n",
				"    - {path: /, upstream: \"http://127.0.0.1:8081\"}\n    - {path: /admin, upstream: \"http://127.0.0.1:8082\", allow: {groups: [admins]}}\n" +
					"    - {host: app.example.com, path: /, upstream: \"http://127.0.0.1:8083\", public: true}\n"},
			// The catch-all route loses app.example.com too.
			want: [][2]string{{"proxy.routes[0]", "that route is public"}, {"proxy.routes[1]", "that route is public"}},
		},
		{
			name:  "emails trusted unverified",
			edits: []string{"client_id: app,", "client_id: app, insecure_assume_email_verified: true,"},
			want:  [][2]string{{"proxy.provider.insecure_assume_email_verified", "passes rules on emails"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := riskBase
			for i := 0; i+1 < len(tc.edits); i += 2 {
				if !strings.Contains(yaml, tc.edits[i]) {
					t.Fatalf("the configuration lacks %q", tc.edits[i])
				}
				yaml = strings.Replace(yaml, tc.edits[i], tc.edits[i+1], 1)
			}
			c := loadRiskConfig(t, yaml)
			if len(c.Risks) != len(tc.want) {
				t.Fatalf("got risks %v, want %d", c.Risks, len(tc.want))
			}
			for i, w := range tc.want {
				if r := c.Risks[i]; r.Field != w[0] || !strings.Contains(r.Msg, w[1]) || r.Line == 0 {
					t.Errorf("got risk %v, want one on a line at %s saying %q", r, w[0], w[1])
				}
			}
		})
	}
}

func TestSecretBits(t *testing.T) {
	for _, tc := range []struct {
		secret       string
		atLeast, max float64
	}{
		{"q8Jx2W0bY5vN3kT7mH1cR9dL4pZ6sF0aG2eU8iO5wQz=", 256, 300},                     // openssl rand -base64 32
		{"3f9a0c7e1b6d2a8f4c0e9b7a5d3f1c2e8a6b4d0f9e7c5a3b1d2f4e6a8c0b9d7e", 256, 256}, // openssl rand -hex 32
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 0},
		{"abababababababababababababababababababababab", 0, 50},
		{"DEMO ONLY proxy cookie secret - replace me!!!!!!", 100, 255},
	} {
		if got := secretBits(tc.secret); got < tc.atLeast || got > tc.max {
			t.Errorf("secretBits(%q) = %.0f, want %.0f to %.0f", tc.secret, got, tc.atLeast, tc.max)
		}
	}
}
