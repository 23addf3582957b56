package authserver

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

func TestDiscovery(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.SigningAlgorithm = alg })
			other := map[string]string{"ES256": "RS256", "RS256": "ES256"}[alg]
			r := h.browser().get(PathDiscovery)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
				t.Fatal(err)
			}
			wantString := map[string]string{
				"issuer":                 h.ts.URL,
				"authorization_endpoint": h.ts.URL + PathAuthorize,
				"token_endpoint":         h.ts.URL + PathToken,
				"userinfo_endpoint":      h.ts.URL + PathUserInfo,
				"jwks_uri":               h.ts.URL + PathKeys,
			}
			for k, v := range wantString {
				if doc[k] != v {
					t.Errorf("%s = %v, want %s", k, doc[k], v)
				}
			}
			wantList := map[string][]string{
				"response_types_supported":              {"code"},
				"grant_types_supported":                 {"authorization_code", "refresh_token", "client_credentials"},
				"code_challenge_methods_supported":      {"S256"},
				"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
				"id_token_signing_alg_values_supported": {alg, other},
				"subject_types_supported":               {"public"},
			}
			for k, want := range wantList {
				if got := strings_(doc[k]); !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			for k, must := range map[string][]string{
				"scopes_supported": {"openid", "profile", "email", "groups"},
				"claims_supported": {"sub", "name", "preferred_username", "email", "email_verified", "groups", "nonce", "at_hash"},
			} {
				got := strings_(doc[k])
				for _, m := range must {
					if !slices.Contains(got, m) {
						t.Errorf("%s = %v, lacks %s", k, got, m)
					}
				}
			}

			keys := h.browser().get(PathKeys)
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(keys.body), &set); err != nil {
				t.Fatalf("jwks: %v; body %s", err, keys.body)
			}
			// Every alg discovery advertises has its key (OpenID Connect
			// Discovery §3 requires RS256), whatever the default.
			var algs []string
			for _, k := range set.Keys {
				if k.KeyID == "" || !k.IsPublic() || k.Use != "sig" {
					t.Errorf("jwks key %+v, want a public signing key with a kid", k)
				}
				algs = append(algs, k.Algorithm)
			}
			if slices.Sort(algs); !slices.Equal(algs, []string{"ES256", "RS256"}) {
				t.Errorf("jwks = %s, want one ES256 and one RS256 key", keys.body)
			}
			if strings.Contains(keys.body, `"d"`) {
				t.Error("jwks leaks private key material")
			}
		})
	}
}

// TestDiscoveryIsExact checks that discovery advertises what the server
// does and nothing more: a fixed set of members, every endpoint answering
// at its URL, every grant type accepted by the token endpoint, and every
// prompt value by the authorization endpoint.
func TestDiscoveryIsExact(t *testing.T) {
	h := newHarness(t)
	var doc map[string]any
	if err := json.Unmarshal([]byte(h.browser().get(PathDiscovery).body), &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"authorization_endpoint", "authorization_response_iss_parameter_supported", "backchannel_logout_session_supported",
		"backchannel_logout_supported", "claims_parameter_supported", "claims_supported", "code_challenge_methods_supported",
		"end_session_endpoint", "grant_types_supported", "id_token_signing_alg_values_supported",
		"introspection_endpoint", "introspection_endpoint_auth_methods_supported", "issuer", "jwks_uri",
		"prompt_values_supported", "request_parameter_supported", "request_uri_parameter_supported",
		"response_modes_supported", "response_types_supported", "revocation_endpoint",
		"revocation_endpoint_auth_methods_supported", "scopes_supported", "subject_types_supported",
		"token_endpoint", "token_endpoint_auth_methods_supported", "userinfo_endpoint",
	}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, want) {
		t.Errorf("discovery members:\n got %v\nwant %v", got, want)
	}
	for _, false_ := range []string{"claims_parameter_supported", "request_parameter_supported", "request_uri_parameter_supported"} {
		if doc[false_] != false {
			t.Errorf("%s = %v, want false", false_, doc[false_])
		}
	}

	// Each endpoint answers its own way at the advertised URL: never 404,
	// never a method it does not take.
	for _, tt := range []struct {
		member, method string
		status         int
	}{
		{"authorization_endpoint", http.MethodGet, http.StatusBadRequest}, // no client_id: a page
		{"token_endpoint", http.MethodPost, http.StatusUnauthorized},      // no client authentication
		{"userinfo_endpoint", http.MethodGet, http.StatusUnauthorized},
		{"revocation_endpoint", http.MethodPost, http.StatusUnauthorized},
		{"introspection_endpoint", http.MethodPost, http.StatusUnauthorized},
		{"end_session_endpoint", http.MethodGet, http.StatusOK}, // nobody signed in: "signed out"
		{"jwks_uri", http.MethodGet, http.StatusOK},
	} {
		target, _ := doc[tt.member].(string)
		req, err := http.NewRequest(tt.method, target, strings.NewReader(""))
		if err != nil {
			t.Fatalf("%s: %v", tt.member, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r := do(t, h.ts.Client(), req); r.status != tt.status {
			t.Errorf("%s %s (%s): status %d, want %d; body %s", tt.method, target, tt.member, r.status, tt.status, r.body)
		}
	}
	for _, grant := range strings_(doc["grant_types_supported"]) {
		r := h.clientCall(PathToken, url.Values{"grant_type": {grant}}, "web", webSecret)
		if e := r.json(t)["error"]; e == codeUnsupportedGrantType {
			t.Errorf("grant_type %s is advertised but unsupported", grant)
		}
	}
	_, challenge := pkce("prompt")
	for _, prompt := range strings_(doc["prompt_values_supported"]) {
		r := h.browser().authorize(with(authParams(challenge), "prompt", prompt))
		if r.status != http.StatusSeeOther || r.location(t).Query().Get("error") == codeInvalidRequest {
			t.Errorf("prompt=%s: status %d Location %s", prompt, r.status, r.header.Get("Location"))
		}
	}
}

func strings_(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestIssuerWithPath(t *testing.T) {
	h := newHarness(t)
	srv, err := New(Config{
		Issuer: "https://login.example/tenant-a", Directory: testDirectory(t), Store: h.store,
		CookieSecrets: h.srv.cfg.CookieSecrets, Now: h.clk.Now, Logger: h.srv.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(srv, http.MethodGet, "/tenant-a"+PathDiscovery, nil)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("discovery below the issuer path: %v (status %d)", err, rec.Code)
	}
	if doc["issuer"] != "https://login.example/tenant-a" || doc["token_endpoint"] != "https://login.example/tenant-a/token" {
		t.Errorf("issuer %v token_endpoint %v", doc["issuer"], doc["token_endpoint"])
	}
	if rec := serve(srv, http.MethodGet, PathDiscovery, nil); rec.Code != http.StatusNotFound {
		t.Errorf("discovery outside the issuer path: status %d, want 404", rec.Code)
	}
	if rec := serve(srv, http.MethodGet, "/tenant-a"+PathHealth, nil); rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: status %d body %q", rec.Code, rec.Body.String())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	h := newHarness(t)
	good := h.srv.cfg
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"relative issuer", func(c *Config) { c.Issuer = "/only/a/path" }, "absolute http or https URL"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://x.example/?a=b" }, "without query"},
		{"issuer with another scheme", func(c *Config) { c.Issuer = "ftp://x.example" }, "absolute http or https URL"},
		{"no directory", func(c *Config) { c.Directory = nil }, "no directory"},
		{"no store", func(c *Config) { c.Store = nil }, "no store"},
		{"HS256", func(c *Config) { c.SigningAlgorithm = "HS256" }, `"HS256" is not supported`},
		{"none", func(c *Config) { c.SigningAlgorithm = "none" }, `"none" is not supported`},
		{"negative TTL", func(c *Config) { c.AuthCodeTTL = -time.Second }, "AuthCodeTTL must not be negative"},
		{"sub-second TTL", func(c *Config) { c.AccessTokenTTL = time.Millisecond }, "AccessTokenTTL must be at least one second"},
		{"no cookie secret", func(c *Config) { c.CookieSecrets = nil }, "no secret given"},
		{"short cookie secret", func(c *Config) { c.CookieSecrets = [][]byte{[]byte("short")} }, "at least 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.cfg
	for name, got := range map[string]time.Duration{
		"AuthCodeTTL": cfg.AuthCodeTTL, "AccessTokenTTL": cfg.AccessTokenTTL, "IDTokenTTL": cfg.IDTokenTTL,
		"RefreshTokenTTL": cfg.RefreshTokenTTL, "LoginSessionTTL": cfg.LoginSessionTTL, "ConsentTTL": cfg.ConsentTTL,
		"KeyRotationPeriod": cfg.KeyRotationPeriod,
	} {
		want := map[string]time.Duration{
			"AuthCodeTTL": 60 * time.Second, "AccessTokenTTL": time.Hour, "IDTokenTTL": time.Hour,
			"RefreshTokenTTL": 30 * 24 * time.Hour, "LoginSessionTTL": 12 * time.Hour, "ConsentTTL": 30 * 24 * time.Hour,
			"KeyRotationPeriod": 30 * 24 * time.Hour,
		}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if cfg.SigningAlgorithm != "ES256" {
		t.Errorf("SigningAlgorithm = %q, want ES256", cfg.SigningAlgorithm)
	}
}

func TestMaintain(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	now := h.clk.Now()
	if err := h.store.CreateAuthCode(ctx, storage.AuthCode{ID: "expired", ClientID: "web", Subject: "alice", ExpiresAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Second)
	h.srv.maintain(ctx)
	if !strings.Contains(h.logs.String(), "expired rows removed") || !strings.Contains(h.logs.String(), "auth_codes=1") {
		t.Errorf("maintenance log lacks the removed code:\n%s", h.logs.String())
	}

	// Maintenance rotates the signing keys, one per algorithm, when due.
	before := mustKIDs(t, h)
	h.clk.Advance(h.srv.cfg.KeyRotationPeriod)
	h.srv.maintain(ctx)
	after := mustKIDs(t, h)
	if len(before) != 2 || len(after) != 4 || slices.Contains(before, after[0]) || slices.Contains(before, after[1]) ||
		!slices.Equal(slices.Sorted(slices.Values(after[2:])), slices.Sorted(slices.Values(before))) {
		t.Errorf("after the rotation period, published kids %v (before %v), want two new keys then the old two", after, before)
	}

	// Maintain returns once its context is done.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { h.srv.Maintain(cctx); close(done) }()
	cancel()
	<-done
}

func mustKIDs(t *testing.T, h *harness) []string {
	t.Helper()
	set, err := h.srv.keys.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestReplicasShareState(t *testing.T) {
	// Two servers on one store behave as one: a code issued by one is
	// redeemed at the other, and both publish the same keys.
	a := newHarness(t)
	b := newHarness(t, func(c *Config) { c.Store = a.store; c.Now = a.clk.Now })
	code, verifier := freshCode(t, a.browser(), "openid")
	r := b.tokenCall(withCode(code, verifier), "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("redeeming a's code at b: status %d body %s", r.status, r.body)
	}
	if ka, kb := mustKIDs(t, a), mustKIDs(t, b); !slices.Equal(ka, kb) {
		t.Errorf("a publishes %v, b %v", ka, kb)
	}
}

func withCode(code, verifier string) url.Values {
	return url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
}
