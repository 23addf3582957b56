package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/testcert"
)

func TestShippedConfigsLoad(t *testing.T) {
	for _, path := range []string{"../../config.example.yaml", "../../examples/seed.yaml", "../../examples/policies.yaml", "../../examples/theme/gatehouse.yaml"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, err := load(path, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatalf("got %v, want the shipped file to load", err)
			}
			a := c.File.AuthServer
			if a == nil {
				t.Fatal("no authserver section")
			}
			if _, err := c.AuthServer(nil, nil); err != nil {
				t.Fatalf("AuthServer: %v", err)
			}
			if c.File.Proxy != nil {
				if _, err := c.Proxy(nil, nil); err != nil {
					t.Fatalf("Proxy: %v", err)
				}
			}
		})
	}
}

func TestExampleDefaults(t *testing.T) {
	c, err := Load("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := c.File.AuthServer
	if got, want := a.Lifetimes.AuthorizationCode, 60*time.Second; got != want {
		t.Errorf("authorization_code lifetime: got %s, want %s", got, want)
	}
	if !filepath.IsAbs(a.Storage.SQLite.Path) || filepath.Base(a.Storage.SQLite.Path) != "gatehouse.db" {
		t.Errorf("sqlite path: got %q, want an absolute path next to the config file", a.Storage.SQLite.Path)
	}
	pc, err := c.Proxy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Cookie.Secure {
		t.Error("cookie.secure: got true for an http public_url, want false")
	}
	if got := pc.PublicURL.String(); got != "http://localhost:8000" {
		t.Errorf("public_url: got %q", got)
	}
	if b := pc.Bearer; b.Audiences != nil || b.Introspection || b.IntrospectionCacheTTL != 30*time.Second {
		t.Errorf("bearer: got %+v, want the proxy's client id as audience (nil), no introspection, a 30s cache", b)
	}
	ac, err := c.AuthServer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := ac.Directory.Client("gatehouse-proxy")
	if cl == nil || !cl.RequirePKCE || !cl.SecretIsHash || !cl.CheckSecret("demo-proxy-secret-not-for-production") {
		t.Errorf("client gatehouse-proxy: got %+v, want PKCE required and the demo secret accepted via its hash", cl)
	}
	if ac.Directory.Authenticate("demo", "demo-password") == nil {
		t.Error("the demo user's documented password does not work")
	}
}

const minimalAuth = `authserver:
  issuer: http://localhost:9000
  cookie_secrets: ["0123456789abcdef0123456789abcdef"]
  storage: {type: memory}
  users:
    - id: u
      password_hash: "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"
  clients:
    - id: c
      secret: s
      redirect_uris: [http://localhost:8000/cb]
`

// proxyFor is a proxy section that signs in at minimalAuth's issuer.
func proxyFor(clientID, secret, publicURL string) string {
	return "proxy:\n  public_url: " + publicURL + "\n" +
		"  provider: {issuer: http://localhost:9000, client_id: " + clientID + ", client_secret: \"" + secret + "\"}\n" +
		"  cookie: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n  routes: [{path: /, upstream: http://127.0.0.1:1}]\n"
}

func TestProxyMatchingItsClientLoads(t *testing.T) {
	yaml := strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]", 1) + proxyFor("c", "s", "http://localhost:8000/")
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("got %v, want a proxy whose client, redirect URI and secret match to load", err)
	}
}

func TestProblemsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{
			name: "unknown field",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "      secret: s\n      redirect_uri: http://x\n", 1),
			want: []string{":11: authserver.clients[0].redirect_uri: unknown field", "redirect_uris"},
		},
		{
			name: "unknown top-level section",
			yaml: minimalAuth + "proxi: {}\n",
			want: []string{":12: proxi: unknown field"},
		},
		{
			name: "bad duration",
			yaml: minimalAuth + "  lifetimes: {access_token: soon}\n",
			want: []string{":12: authserver.lifetimes.access_token:", "soon"},
		},
		{
			name: "unset environment variable",
			yaml: strings.Replace(minimalAuth, "secret: s", "secret: ${GATEHOUSE_TEST_UNSET}", 1),
			want: []string{":10: authserver.clients[0].secret: environment variable GATEHOUSE_TEST_UNSET is not set"},
		},
		{
			name: "several problems at once",
			yaml: strings.NewReplacer("http://localhost:9000", "localhost", `"$2a`, `"x$2a`).Replace(minimalAuth),
			want: []string{"2 problems", ":2: authserver.issuer:", "not an absolute", ":7: authserver.users[0].password_hash: is neither a bcrypt hash nor an argon2id hash"},
		},
		{
			name: "argon2id hash out of bounds",
			yaml: strings.Replace(minimalAuth, `"$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW"`, `"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`, 1),
			want: []string{":7: authserver.users[0].password_hash: has argon2id m=4194304; want 8 (8·p) to 262144 KiB"},
		},
		{
			name: "user ids equal but for case and width",
			yaml: strings.Replace(minimalAuth, "  clients:\n", "    - id: \"Ｕ \"\n      password_hash: \"$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW\"\n  clients:\n", 1),
			want: []string{":8: authserver.users[1].id: \"Ｕ \" and users[0].id \"u\" are the same user id once case, width and spaces are ignored"},
		},
		{
			name: "login throttle limits",
			yaml: minimalAuth + "  login_throttle:\n    base_delay: 10s\n    max_delay: 5s\n    per_ip: {delay_after: 5, lock_after: 5}\n    per_account: {delay_after: -1}\n    window: -1m\n",
			want: []string{":14: authserver.login_throttle.max_delay: 5s is shorter than base_delay 10s", ":15: authserver.login_throttle.per_ip.lock_after: must be more than delay_after (5)",
				":16: authserver.login_throttle.per_account.delay_after: must be at least 1", ":17: authserver.login_throttle.window: must be a positive duration"},
		},
		{
			name: "short cookie secret",
			yaml: strings.Replace(minimalAuth, "0123456789abcdef0123456789abcdef", "short", 1),
			want: []string{":3: authserver.cookie_secrets[0]: is 5 characters; use at least 32"},
		},
		{
			name: "public client cannot turn off PKCE",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "      token_endpoint_auth_method: none\n      require_pkce: false\n", 1),
			want: []string{":11: authserver.clients[0].require_pkce: public clients always need PKCE"},
		},
		{
			name: "ID token alg not supported",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "      secret: s\n      id_token_signed_response_alg: HS256\n", 1),
			want: []string{":11: authserver.clients[0].id_token_signed_response_alg: \"HS256\" is not allowed; use one of ES256, RS256"},
		},
		{
			name: "confidential client without secret",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "", 1),
			want: []string{":9: authserver.clients[0].secret: a confidential client needs one of secret"},
		},
		{
			name: "secret and secret_file",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "      secret: s\n      secret_file: s.txt\n", 1),
			want: []string{"authserver.clients[0].secret: set either secret or secret_file, not both"},
		},
		{
			name: "postgres without dsn",
			yaml: strings.Replace(minimalAuth, "{type: memory}", "{type: postgres}", 1),
			want: []string{":4: authserver.storage.postgres.dsn: is required when storage.type is postgres"},
		},
		{
			name: "proxy without openid or secrets",
			yaml: "proxy:\n  public_url: http://localhost:8000\n  provider: {issuer: http://localhost:9000, client_id: p, scopes: [profile]}\n",
			want: []string{"proxy.provider.scopes: must include openid", "proxy.cookie.secrets: add at least one secret"},
		},
		{
			name: "reserved route",
			yaml: "proxy:\n  public_url: http://localhost:8000\n  provider: {issuer: http://localhost:9000, client_id: p}\n  cookie: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n  routes:\n    - {path: /oauth2/x, upstream: http://127.0.0.1:1}\n",
			want: []string{":6: proxy.routes[0].path: \"/oauth2/x\" is reserved: paths under /oauth2/ belong to the proxy"},
		},
		{
			name: "http issuer off this machine",
			yaml: strings.Replace(minimalAuth, "http://localhost:9000", "http://auth.example.com", 1),
			want: []string{":2: authserver.issuer: http://auth.example.com uses http on a host other than this machine", "insecure_allow_http"},
		},
		{
			name: "http provider off this machine",
			yaml: "proxy:\n  public_url: https://app.example.com\n  provider: {issuer: http://idp.example.com, client_id: p}\n  cookie: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n  routes: [{path: /, upstream: http://10.0.0.1:80}]\n",
			want: []string{":3: proxy.provider.issuer: http://idp.example.com uses http"},
		},
		{
			name: "session limits",
			yaml: "proxy:\n  public_url: http://localhost:8000\n  provider: {issuer: http://localhost:9000, client_id: p, refresh_skew: -1s}\n" +
				"  cookie:\n    secrets: [\"0123456789abcdef0123456789abcdef\"]\n    session_idle_ttl: -1m\n  session_store: {type: memory, redis: {url: redis://x}}\n",
			want: []string{":3: proxy.provider.refresh_skew: must be a positive duration", ":6: proxy.cookie.session_idle_ttl: must not be negative", ":7: proxy.session_store.redis: applies to the cookie and redis stores"},
		},
		{
			name: "empty file",
			yaml: "# nothing\n",
			want: []string{"the file is empty"},
		},
		{
			name: "list where a mapping belongs",
			yaml: "authserver: [1, 2]\n",
			want: []string{":1: authserver: got a list, want a mapping"},
		},
		{
			name: "syntax error",
			yaml: "authserver:\n  issuer: [\n",
			want: []string{"config.yaml:2: YAML syntax: did not find expected node content", "indentation"},
		},
		{
			name: "duration without a unit",
			yaml: minimalAuth + "  key_rotation_period: 30d\n",
			want: []string{":12: authserver.key_rotation_period: got \"30d\", want a duration with a unit, such as 90s", "720h"},
		},
		{
			name: "not a bool",
			yaml: minimalAuth + "  insecure_allow_http: nope\n",
			want: []string{":12: authserver.insecure_allow_http: got \"nope\", want true or false"},
		},
		{
			name: "single value where a list belongs",
			yaml: strings.Replace(minimalAuth, "[http://localhost:8000/cb]", "http://localhost:8000/cb", 1),
			want: []string{":11: authserver.clients[0].redirect_uris: got ", "want a list"},
		},
		{
			name: "single value where a section belongs",
			yaml: minimalAuth + "  lifetimes: 1h\n",
			want: []string{":12: authserver.lifetimes: got \"1h\", want a mapping"},
		},
		{
			name: "proxy client not registered at this authserver",
			yaml: minimalAuth + proxyFor("other", "s", "http://localhost:8000"),
			want: []string{"proxy.provider.client_id: \"other\" is not in authserver.clients (ids: c)"},
		},
		{
			name: "proxy redirect URI not registered",
			yaml: minimalAuth + proxyFor("c", "s", "http://localhost:8000"),
			want: []string{"proxy.public_url: the proxy's redirect URI http://localhost:8000/oauth2/callback is not in authserver.clients[0].redirect_uris (registered: http://localhost:8000/cb)"},
		},
		{
			name: "proxy secret differs",
			yaml: strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]", 1) + proxyFor("c", "t", "http://localhost:8000"),
			want: []string{"proxy.provider.client_secret: differs from authserver.clients[0].secret"},
		},
		{
			name: "proxy secret differs from the hash",
			yaml: strings.NewReplacer("/cb]", "/oauth2/callback]", "      secret: s\n", "      secret_hash: \"$2a$10$xo6uVAG0NncDgC1UWWVE/uz5lN037jh3DNqBh3dYkvnd3WvUKeVN6\"\n").Replace(minimalAuth) + proxyFor("c", "s", "http://localhost:8000"),
			want: []string{"proxy.provider.client_secret: does not match authserver.clients[0].secret_hash"},
		},
		{
			name: "proxy without the secret of a confidential client",
			yaml: strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]", 1) + proxyFor("c", "", "http://localhost:8000"),
			want: []string{"proxy.provider.client_secret: is required: authserver.clients[0] is a confidential client"},
		},
		{
			name: "code client without redirect URIs",
			yaml: strings.Replace(minimalAuth, "      redirect_uris: [http://localhost:8000/cb]\n", "", 1),
			want: []string{":9: authserver.clients[0].redirect_uris: list at least one redirect URI"},
		},
		{
			name: "unknown grant type",
			yaml: minimalAuth + "      grant_types: [authorization_code, password]\n",
			want: []string{":12: authserver.clients[0].grant_types[1]: \"password\" is not allowed; use one of authorization_code, refresh_token, client_credentials"},
		},
		{
			name: "no grant that issues tokens",
			yaml: minimalAuth + "      grant_types: []\n",
			want: []string{":12: authserver.clients[0].grant_types: must include authorization_code (people sign in) or client_credentials"},
		},
		{
			name: "refresh token without the code flow",
			yaml: minimalAuth + "      grant_types: [client_credentials, refresh_token]\n",
			want: []string{":12: authserver.clients[0].grant_types: refresh_token needs authorization_code"},
		},
		{
			name: "public client with client_credentials",
			yaml: strings.Replace(minimalAuth, "      secret: s\n", "      token_endpoint_auth_method: none\n      grant_types:\n        - authorization_code\n        - client_credentials\n", 1),
			want: []string{":13: authserver.clients[0].grant_types[1]: a public client (token_endpoint_auth_method: none) cannot use client_credentials"},
		},
		{
			name: "service client named like a user",
			yaml: strings.Replace(minimalAuth, "    - id: c\n", "    - id: u\n      grant_types: [client_credentials]\n", 1),
			want: []string{":9: authserver.clients[0].id: \"u\" is also a user id"},
		},
		{
			name: "unknown access token format",
			yaml: minimalAuth + "      access_token_format: paseto\n",
			want: []string{":12: authserver.clients[0].access_token_format: \"paseto\" is not allowed; use one of opaque, jwt"},
		},
		{
			name: "audience of opaque tokens",
			yaml: minimalAuth + "      access_token_audience: [https://api.example]\n",
			want: []string{":12: authserver.clients[0].access_token_audience: applies only to access_token_format: jwt"},
		},
		{
			name: "empty audience",
			yaml: minimalAuth + "      access_token_format: jwt\n      access_token_audience:\n        - https://api.example\n        - \"\"\n",
			want: []string{":15: authserver.clients[0].access_token_audience[1]: is empty"},
		},
		{
			name: "proxy client without openid",
			yaml: strings.Replace(minimalAuth, "/cb]", "/oauth2/callback]\n      scopes: [profile]", 1) + proxyFor("c", "s", "http://localhost:8000"),
			want: []string{"authserver.clients[0].scopes: lacks openid"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := load(path, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%s", w, err)
				}
			}
			if !strings.Contains(err.Error(), "config.yaml") {
				t.Errorf("error does not name the file: %s", err)
			}
		})
	}
}

// TestServiceClientConverts checks that a client that only acts for
// itself needs no redirect URIs, and that the access token options reach
// the directory, opaque being the default.
func TestServiceClientConverts(t *testing.T) {
	yaml := minimalAuth + `    - id: svc
      secret: t
      grant_types: [client_credentials]
      scopes: [api.read]
      access_token_format: jwt
      access_token_audience: [https://api.example]
`
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("got %v, want a service client without redirect URIs to load", err)
	}
	ac, err := c.AuthServer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id, format string
		audience   []string
		grants     []string
	}{
		{"c", directory.AccessTokenOpaque, nil, []string{"authorization_code", "refresh_token"}},
		{"svc", directory.AccessTokenJWT, []string{"https://api.example"}, []string{"client_credentials"}},
	} {
		cl := ac.Directory.Client(tt.id)
		if cl == nil {
			t.Fatalf("client %s missing", tt.id)
		}
		if cl.AccessTokenFormat != tt.format || !slices.Equal(cl.AccessTokenAudience, tt.audience) || !slices.Equal(cl.GrantTypes, tt.grants) {
			t.Errorf("client %s: format %q audience %v grants %v, want %q %v %v",
				tt.id, cl.AccessTokenFormat, cl.AccessTokenAudience, cl.GrantTypes, tt.format, tt.audience, tt.grants)
		}
	}
}

func TestClientSigningAlg(t *testing.T) {
	for _, tc := range []struct {
		line string // added to the client
		want string
	}{
		{"", ""}, // the server's signing_algorithm
		{"      id_token_signed_response_alg: RS256\n", "RS256"},
		{"      id_token_signed_response_alg: ES256\n", "ES256"},
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(minimalAuth+tc.line), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		ac, err := c.AuthServer(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ac.Directory.Client("c").SigningAlg; got != tc.want {
			t.Errorf("%q: SigningAlg = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestInsecureAllowHTTP(t *testing.T) {
	yaml := strings.Replace(minimalAuth, "http://localhost:9000", "http://gatehouse.internal:9000", 1) + "  insecure_allow_http: true\n"
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("got %v, want an http issuer accepted with insecure_allow_http", err)
	}
}

func TestLoginThrottleConverts(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       authserver.LoginThrottle
	}{
		{"defaults", "", authserver.DefaultLoginThrottle()},
		{"off", "  login_throttle: {enabled: false}\n", authserver.LoginThrottle{Disabled: true}},
		{"some set", "  login_throttle: {lock_duration: 1h, per_ip: {lock_after: 500}}\n", func() authserver.LoginThrottle {
			d := authserver.DefaultLoginThrottle()
			d.LockDuration, d.IP.LockAfter = time.Hour, 500
			return d
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(minimalAuth+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			ac, err := c.AuthServer(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ac.LoginThrottle != tc.want {
				t.Errorf("got %+v, want %+v", ac.LoginThrottle, tc.want)
			}
		})
	}
}

func TestArgon2idPasswordHash(t *testing.T) {
	hash := directory.HashArgon2id("pw")
	yaml := strings.Replace(minimalAuth, "$2a$10$nS./0Q.CDp1T.yvtKbGIAePr9lUez3mRKswldUMYv9jWe0.7m00YW", hash, 1)
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("got %v, want an argon2id password hash accepted", err)
	}
	ac, err := c.AuthServer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ac.Directory.Authenticate(" U ", "pw") == nil {
		t.Error("the user with an argon2id hash cannot sign in")
	}
}

func TestEnvironmentAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "client-secret"), []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cookies"), []byte("1111111111111111111111111111111111\n\n2222222222222222222222222222222222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := `log: {level: "${LEVEL}"}
proxy:
  public_url: https://${HOST}
  provider: {issuer: http://localhost:9000, client_id: p, client_secret_file: client-secret}
  cookie: {secrets_file: cookies}
  routes: [{path: /, upstream: "http://127.0.0.1:${PORT}"}]
`
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LEVEL": "debug", "HOST": "app.example.com", "PORT": "8081"}
	c, err := load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	p := c.File.Proxy
	if p.PublicURL != "https://app.example.com" || p.Routes[0].Upstream != "http://127.0.0.1:8081" || c.File.Log.Level != "debug" {
		t.Errorf("expansion: got %q %q %q", p.PublicURL, p.Routes[0].Upstream, c.File.Log.Level)
	}
	if p.Provider.ClientSecret != "from-a-file" {
		t.Errorf("client_secret_file: got %q, want %q", p.Provider.ClientSecret, "from-a-file")
	}
	if len(p.Cookie.Secrets) != 2 {
		t.Errorf("secrets_file: got %d secrets, want 2", len(p.Cookie.Secrets))
	}
	if !*p.Cookie.Secure {
		t.Error("cookie.secure: got false for an https public_url, want true")
	}
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{minimalAuth, "proxy: {}\n", "a: &x 1\nb: *x\n", "authserver:\n  users: [{id: ${X}}]\n"} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := load(path, func(string) (string, bool) { return "v", true })
		if err == nil && c.File.AuthServer == nil && c.File.Proxy == nil && c.File.DemoUpstream == nil {
			t.Fatal("a file with nothing to run was accepted")
		}
	})
}

// routesBase is a proxy section whose routes follow from line 6.
const routesBase = `proxy:
  public_url: https://app.example.com
  provider: {issuer: https://idp.example.com, client_id: p}
  cookie: {secrets: ["0123456789abcdef0123456789abcdef"]}
  routes:
`

// TestRouteProblems checks that what the proxy refuses in routes, policies,
// trusted proxies and redirect domains is reported on its line.
func TestRouteProblems(t *testing.T) {
	for _, tc := range []struct {
		name, routes string
		want         string
	}{
		{"empty allow", "    - path: /\n      upstream: http://127.0.0.1:1\n      allow:\n", ":8: proxy.routes[0].allow: is empty"},
		{"allow with nothing in it", "    - {path: /, upstream: http://127.0.0.1:1, allow: {}}\n", ":6: proxy.routes[0].allow: is empty; an empty allow admits nobody"},
		{"allow with empty lists", "    - path: /\n      upstream: http://127.0.0.1:1\n      allow: {groups: []}\n", ":8: proxy.routes[0].allow: is empty"},
		{"empty deny", "    - path: /\n      upstream: http://127.0.0.1:1\n      deny: {}\n", ":8: proxy.routes[0].deny: is empty"},
		{"bad email", "    - path: /\n      allow:\n        emails: [ada]\n", ":8: proxy.routes[0].allow.emails[0]: \"ada\" is not an email address"},
		{"claim without values", "    - path: /\n      allow:\n        claims:\n          department: []\n", ":9: proxy.routes[0].allow.claims.department: lists no values"},
		{"public with a policy", "    - path: /\n      public: true\n      allow: {groups: [a]}\n", ":7: proxy.routes[0].public: a public route admits everyone"},
		{"skip_auth without methods", "    - path: /\n      skip_auth:\n        - path: /health\n", ":8: proxy.routes[0].skip_auth[0].methods: list the methods"},
		{"skip_auth bad regexp", "    - path: /\n      skip_auth:\n        - {methods: [GET], path: \"/a(\"}\n", ":8: proxy.routes[0].skip_auth[0].path: error parsing regexp"},
		{"skip_auth lower-case method", "    - path: /\n      skip_auth:\n        - methods: [get]\n          path: /x\n", ":8: proxy.routes[0].skip_auth[0].methods[0]: \"get\" is not a method"},
		{"reserved path", "    - {path: /oauth2/x, upstream: http://127.0.0.1:1}\n", ":6: proxy.routes[0].path: \"/oauth2/x\" is reserved"},
		{"path not canonical", "    - {path: /a//b, upstream: http://127.0.0.1:1}\n", ":6: proxy.routes[0].path: \"/a//b\" is not in canonical form; write \"/a/b\""},
		{"path routed twice, in two cases", "    - {path: /app, upstream: http://127.0.0.1:1}\n    - {path: /APP/, upstream: http://127.0.0.1:2}\n", ":7: proxy.routes[1].path: /APP/ on every host is also routes[0]"},
		{"bad upstream", "    - {path: /, upstream: \"ftp://x\"}\n", ":6: proxy.routes[0].upstream: \"ftp://x\" is not an upstream"},
		{"unix socket not absolute", "    - {path: /, upstream: \"unix:app.sock\"}\n", ":6: proxy.routes[0].upstream: \"unix:app.sock\": write a unix socket as unix:/absolute/path.sock"},
		{"missing CA file", "    - path: /\n      upstream: https://10.0.0.1\n      tls: {ca_file: nope.pem}\n", ":8: proxy.routes[0].tls.ca_file: cannot read"},
		{"tls on http", "    - path: /\n      upstream: http://10.0.0.1\n      tls: {server_name: x}\n", ":8: proxy.routes[0].tls: applies to https upstreams only"},
		{"forwarding settings without upstream", "    - {path: /, strip_prefix: true}\n", ":6: proxy.routes[0].upstream: is required for the forwarding settings"},
		{"identity header set statically", "    - path: /\n      upstream: http://127.0.0.1:1\n      set_headers: {X-Forwarded-User: admin}\n", ":8: proxy.routes[0].set_headers.X-Forwarded-User: is an identity header"},
		{"forwarding header set statically", "    - path: /\n      upstream: http://127.0.0.1:1\n      set_headers:\n        X-Forwarded-For: 1.2.3.4\n", ":9: proxy.routes[0].set_headers.X-Forwarded-For: describes the connection"},
		{"underscore in a header name", "    - path: /\n      identity:\n        headers: {X_User: sub}\n", ":8: proxy.routes[0].identity.headers.X_User: is not a header name"},
		{"Authorization as an identity header", "    - path: /\n      identity:\n        headers: {Authorization: email}\n", ":8: proxy.routes[0].identity.headers.Authorization: is a request header that clients send"},
		{"User-Agent as an identity header", "    - path: /\n      identity:\n        headers: {User-Agent: sub}\n", ":8: proxy.routes[0].identity.headers.User-Agent: is a request header"},
		{"identity header name too long", "    - path: /\n      identity:\n        headers: {X-Company-Authenticated-Employee-Identifier-For-Legacy-Billing-App: sub}\n", ":8: proxy.routes[0].identity.headers.X-Company-Authenticated-Employee-Identifier-For-Legacy-Billing-App: is not a header name of at most 64"},
		{"unknown preset", "    - path: /\n      identity: {preset: jenkins}\n", ":7: proxy.routes[0].identity.preset: \"jenkins\" is not a preset; use one of forwarded, gitea, grafana, none, remote-user"},
		{"basic auth without password", "    - path: /\n      identity: {authorization: basic}\n", ":7: proxy.routes[0].identity.basic_auth.password: is required"},
		{"bad authorization", "    - path: /\n      identity: {authorization: cookie}\n", ":7: proxy.routes[0].identity.authorization: \"cookie\" is not allowed"},
		{"host without cookie domain", "    - {host: grafana.example.com, path: /, upstream: http://127.0.0.1:1}\n", ":6: proxy.routes[0].host: grafana.example.com does not receive the session cookie, which is set for app.example.com only; set cookie.domain"},
		{"bad host", "    - {host: \"https://x.example.com\", path: /}\n", ":6: proxy.routes[0].host: \"https://x.example.com\" is not a host name"},
		{"wildcard too wide", "    - {host: \"*.com\", path: /}\n", ":6: proxy.routes[0].host: \"*.com\" would match top-level names"},
		{"set_headers as a list", "    - path: /\n      upstream: http://127.0.0.1:1\n      set_headers: [a]\n", ":8: proxy.routes[0].set_headers: got a list, want a mapping"},
		{"unknown route field", "    - path: /\n      upstreams: http://x\n", ":7: proxy.routes[0].upstreams: unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblem(t, routesBase+tc.routes, tc.want)
		})
	}
	others := []struct{ name, yaml, want string }{
		{"trusted proxy", "  trusted_proxies: [10.0.0.0/8, everyone]\n", ":5: proxy.trusted_proxies[1]: \"everyone\" is not an address or CIDR"},
		{"trusting every address", "  trusted_proxies: [0.0.0.0/0]\n", ":5: proxy.trusted_proxies[0]: 0.0.0.0/0 trusts every address"},
		{"redirect domain with a star", "  allowed_redirect_domains:\n    - \"*.example.com\"\n", ":6: proxy.allowed_redirect_domains[0]: write \"*.example.com\" as \".example.com\""},
		{"redirect domain with a scheme", "  allowed_redirect_domains: [\"https://example.com\"]\n", ":5: proxy.allowed_redirect_domains[0]: \"https://example.com\" is not a lower-case host name"},
		{"empty bearer audience", "  bearer:\n    audiences: [api, \"\"]\n", ":6: proxy.bearer.audiences[1]: is empty"},
		{"negative introspection cache TTL", "  bearer: {introspection_cache_ttl: -1s}\n", ":5: proxy.bearer.introspection_cache_ttl: must not be negative"},
		{"introspection without a client secret", "  bearer:\n    introspection: true\n", ":6: proxy.bearer.introspection: needs provider.client_secret"},
	}
	for _, tc := range others {
		t.Run(tc.name, func(t *testing.T) {
			checkProblem(t, strings.TrimSuffix(routesBase, "  routes:\n")+tc.yaml, tc.want)
		})
	}
}

func checkProblem(t *testing.T, yaml, want string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+want) {
		t.Fatalf("got %v\nwant an error containing %q", err, path+want)
	}
}

func TestRoutesConvert(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "upstream-pw"), []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := routesBase + `    - name: grafana
      host: "*.example.com"
      path: /grafana
      upstream: http://127.0.0.1:3000
      strip_prefix: true
      timeouts: {response_header: 2m}
      set_headers: {X-Env: prod}
      allow:
        groups: [admins]
        claims: {department: [ops]}
      deny: {users: [mallory]}
      skip_auth:
        - {methods: [GET], path: /grafana/public/.*}
      identity:
        preset: grafana
        headers: {X-Department: department}
        authorization: basic
        basic_auth: {user_claim: email, password_file: upstream-pw}
  cookie: {domain: example.com, secrets: ["0123456789abcdef0123456789abcdef"]}
  trusted_proxies: [10.0.0.0/8]
  allowed_redirect_domains: [.example.com]
`
	yaml = strings.Replace(yaml, "  cookie: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n", "", 1)
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := c.Proxy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := pc.Routes[0]
	if r.Name != "grafana" || r.Host != "*.example.com" || !r.StripPrefix || r.Timeouts.ResponseHeader != 2*time.Minute ||
		r.SetHeaders["X-Env"] != "prod" || r.Allow.Groups[0] != "admins" || r.Allow.Claims["department"][0] != "ops" ||
		r.Deny.Users[0] != "mallory" || r.SkipAuth[0].Path != "/grafana/public/.*" || r.Identity.Preset != "grafana" ||
		r.Identity.Headers["X-Department"] != "department" || r.Identity.BasicAuthPassword != "from-a-file" || r.Identity.BasicAuthUserClaim != "email" {
		t.Fatalf("route converted as %+v", r)
	}
	if pc.TrustedProxies[0] != "10.0.0.0/8" || pc.AllowedRedirectDomains[0] != ".example.com" {
		t.Fatalf("got trusted %v, redirect domains %v", pc.TrustedProxies, pc.AllowedRedirectDomains)
	}
}

// TestExampleRouteOptionsAreValid uncomments the route in
// config.example.yaml that shows every option, with the settings it
// mentions and the bearer section, and loads the result: the documentation
// cannot drift from what the proxy accepts.
func TestExampleRouteOptionsAreValid(t *testing.T) {
	raw, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start := strings.Index(s, "    # Every option of a route")
	end := strings.Index(s[start:], "\n\n") + start
	var route []string
	for _, line := range strings.Split(s[start:end], "\n")[1:] {
		route = append(route, "    "+strings.TrimPrefix(line, "    # "))
	}
	s = s[:start] + strings.Join(route, "\n") + s[end:]
	s = strings.NewReplacer("  # trusted_proxies", "  trusted_proxies", "  # allowed_redirect_domains", "  allowed_redirect_domains",
		"    # domain: example.com", "    domain: example.com").Replace(s)
	s = uncommentSection(t, s, "  # bearer:")
	s = strings.Replace(s, "    introspection: false", "    introspection: true", 1)
	dir := t.TempDir()
	certPEM, keyPEM := testcert.SelfSigned(t, "grafana.internal")
	for name, content := range map[string][]byte{
		"full.yaml": []byte(s), "grafana-ca.pem": certPEM, "client.pem": certPEM, "client.key": keyPEM, "upstream-password": []byte("pw\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Load(filepath.Join(dir, "full.yaml"))
	if err != nil {
		t.Fatalf("the example route, uncommented: %v", err)
	}
	if n := len(c.File.Proxy.Routes); n != 2 || c.File.Proxy.Routes[1].Name != "grafana" {
		t.Fatalf("got %d routes, want the quickstart's and the example's", n)
	}
	pc, err := c.Proxy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := pc.Bearer; len(b.Audiences) != 2 || b.Audiences[1] != "https://api.example.com" || !b.Introspection || b.IntrospectionCacheTTL != 30*time.Second {
		t.Fatalf("the example's bearer section, uncommented: got %+v", b)
	}
}

// uncommentSection removes the "# " of the commented-out section that
// starts with the line header, and of the indented lines after it.
func uncommentSection(t *testing.T, s, header string) string {
	t.Helper()
	start := strings.Index(s, header)
	if start < 0 {
		t.Fatalf("config.example.yaml lacks %q", header)
	}
	indent := header[:strings.Index(header, "#")]
	lines := strings.SplitAfter(s[start:], "\n")
	for i, line := range lines {
		if i > 0 && !strings.HasPrefix(line, indent+"#   ") {
			break
		}
		lines[i] = indent + strings.TrimPrefix(line, indent+"# ")
	}
	return s[:start] + strings.Join(lines, "")
}
