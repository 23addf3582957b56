package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
)

// jwtClients are a user-facing and a service client with JWT access
// tokens signed with alg.
func jwtClients(alg string) []directory.Client {
	return []directory.Client{
		{
			ID: "web-jwt", Secret: webSecret,
			RedirectURIs:      []string{webRedirect},
			Scopes:            []string{"openid", "profile", "email"},
			AuthMethod:        directory.AuthClientSecretBasic,
			GrantTypes:        []string{grantAuthorizationCode, grantRefreshToken},
			RequirePKCE:       true,
			SigningAlg:        alg,
			AccessTokenFormat: directory.AccessTokenJWT,
		},
		{
			ID: "svc-jwt", Secret: serviceSecret,
			Scopes:              []string{"api.read"},
			AuthMethod:          directory.AuthClientSecretBasic,
			GrantTypes:          []string{grantClientCredentials},
			SigningAlg:          alg,
			AccessTokenFormat:   directory.AccessTokenJWT,
			AccessTokenAudience: []string{"https://api.example", "https://reports.example"},
		},
	}
}

// verifyOffline checks token the way a resource server does without asking
// the authorization server about it: with the keys published at the
// jwks_uri that discovery names. It returns the header's alg and the
// claims.
func verifyOffline(t *testing.T, h *harness, token string) (alg string, claims map[string]any) {
	t.Helper()
	get := func(u string, v any) {
		t.Helper()
		r := do(t, h.ts.Client(), mustRequest(t, u))
		if err := json.Unmarshal([]byte(r.body), v); err != nil || r.status != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", u, r.status, r.body)
		}
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	get(h.ts.URL+PathDiscovery, &doc)
	var set jose.JSONWebKeySet
	get(doc.JWKSURI, &set)

	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("access token is not a JWS: %v", err)
	}
	hdr := jws.Signatures[0].Header
	if typ := hdr.ExtraHeaders[jose.HeaderType]; typ != keys.TypeAccessToken {
		t.Errorf("typ header %v, want %s (RFC 9068 §2.1)", typ, keys.TypeAccessToken)
	}
	found := set.Key(hdr.KeyID)
	if len(found) != 1 {
		t.Fatalf("kid %q: %d published keys, want 1", hdr.KeyID, len(found))
	}
	payload, err := jws.Verify(found[0])
	if err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return hdr.Algorithm, claims
}

func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// jwtCodeFlow signs alice in with client web-jwt and returns the token
// response of the code exchange.
func jwtCodeFlow(t *testing.T, h *harness) map[string]any {
	t.Helper()
	verifier, challenge := pkce("jwt")
	params := with(authParams(challenge), "client_id", "web-jwt", "scope", "openid profile")
	code := h.browser().withT(t).signIn(params, "alice", alicePassword).Get("code")
	r := h.tokenCall(withCode(code, verifier), "web-jwt", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("code exchange: status %d, body %s", r.status, r.body)
	}
	return r.json(t)
}

func TestJWTAccessTokens(t *testing.T) {
	tests := []struct {
		name      string
		serverAlg string
		clientAlg string // "" is the server's default
		grant     string
	}{
		{"code, default alg", keys.ES256, "", grantAuthorizationCode},
		{"refresh, default alg", keys.ES256, "", grantRefreshToken},
		{"client credentials, default alg", keys.ES256, "", grantClientCredentials},
		{"code, client asks for RS256", keys.RS256, keys.RS256, grantAuthorizationCode},
		{"refresh, client asks for RS256", keys.RS256, keys.RS256, grantRefreshToken},
		{"client credentials, client asks for RS256", keys.RS256, keys.RS256, grantClientCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDirectory(t, append(serviceClients(), jwtClients(tt.clientAlg)...)...)
			h := newHarness(t, func(c *Config) { c.Directory, c.SigningAlgorithm = dir, tt.serverAlg })

			var tok map[string]any
			switch tt.grant {
			case grantClientCredentials:
				r := h.tokenCall(url.Values{"grant_type": {grantClientCredentials}}, "svc-jwt", serviceSecret)
				if r.status != http.StatusOK {
					t.Fatalf("token: status %d, body %s", r.status, r.body)
				}
				tok = r.json(t)
			case grantRefreshToken:
				first := jwtCodeFlow(t, h)
				h.clk.Advance(10 * time.Minute)
				r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(first["refresh_token"])}}, "web-jwt", webSecret)
				if r.status != http.StatusOK {
					t.Fatalf("refresh: status %d, body %s", r.status, r.body)
				}
				tok = r.json(t)
			default:
				tok = jwtCodeFlow(t, h)
			}
			access := str(tok["access_token"])

			alg, claims := verifyOffline(t, h, access)
			if alg != tt.serverAlg {
				t.Errorf("alg %s, want %s", alg, tt.serverAlg)
			}
			now := h.clk.Now().Unix()
			want := map[string]any{
				"iss": h.ts.URL, "sub": "alice", "aud": "web-jwt", "client_id": "web-jwt", "scope": "openid profile",
				"iat": float64(now), "exp": float64(now + 3600),
			}
			if tt.grant == grantClientCredentials {
				want["sub"], want["client_id"], want["scope"] = "svc-jwt", "svc-jwt", "api.read"
				want["aud"] = []any{"https://api.example", "https://reports.example"}
			}
			for k, v := range want {
				if got, _ := json.Marshal(claims[k]); string(got) != mustJSON(t, v) {
					t.Errorf("claim %s = %s, want %s", k, got, mustJSON(t, v))
				}
			}
			if str(claims["jti"]) == "" {
				t.Error("no jti claim (RFC 9068 §2.2)")
			}
			authTime, hasAuthTime := claims["auth_time"].(float64)
			switch {
			case tt.grant == grantClientCredentials && hasAuthTime:
				t.Errorf("auth_time %v in a token without user", authTime)
			case tt.grant != grantClientCredentials && (!hasAuthTime || int64(authTime) > now):
				t.Errorf("auth_time %v, want when alice signed in", claims["auth_time"])
			}

			if tt.grant == grantClientCredentials {
				return
			}
			// The ID token's at_hash covers the JWT as sent.
			idt, err := h.verifier("web-jwt").Verify(context.Background(), str(tok["id_token"]))
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			if err := idt.VerifyAccessToken(access); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			if r := h.bearerCall(http.MethodGet, PathUserInfo, access); r.status != http.StatusOK || r.json(t)["sub"] != "alice" {
				t.Errorf("userinfo with the JWT: status %d, body %s", r.status, r.body)
			}
		})
	}
}

// TestRevokedFamilyEndsJWTAccessTokens checks that a JWT access token is
// only as good as its grant at this server: once a replayed refresh token
// revokes the family, userinfo refuses the family's JWTs, although their
// signatures still verify offline until they expire.
func TestRevokedFamilyEndsJWTAccessTokens(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Directory = testDirectory(t, jwtClients("")...) })
	first := jwtCodeFlow(t, h)
	refreshForm := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(first["refresh_token"])}}
	r := h.tokenCall(refreshForm, "web-jwt", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: status %d, body %s", r.status, r.body)
	}
	second := r.json(t)
	for _, tok := range []map[string]any{first, second} {
		if r := h.bearerCall(http.MethodGet, PathUserInfo, str(tok["access_token"])); r.status != http.StatusOK {
			t.Fatalf("userinfo before the replay: status %d, body %s", r.status, r.body)
		}
	}

	wantOAuthError(t, h.tokenCall(refreshForm, "web-jwt", webSecret), http.StatusBadRequest, codeInvalidGrant)

	for i, tok := range []map[string]any{first, second} {
		access := str(tok["access_token"])
		verifyOffline(t, h, access)
		r := h.bearerCall(http.MethodGet, PathUserInfo, access)
		wantOAuthError(t, r, http.StatusUnauthorized, codeInvalidToken)
		if r := h.bearerCall(http.MethodGet, PathAPIMe, access); r.status != http.StatusUnauthorized {
			t.Errorf("token %d at /api/me after the revocation: status %d, want 401", i, r.status)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJWTAccessTokenOutlivesItsKeysRotation checks that a key retired by
// rotation stays published as long as the JWT access tokens it signed are
// valid, also when they live longer than ID tokens.
func TestJWTAccessTokenOutlivesItsKeysRotation(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Directory = testDirectory(t, jwtClients("")...)
		c.KeyRotationPeriod, c.IDTokenTTL, c.AccessTokenTTL = time.Hour, time.Hour, 3*time.Hour
	})
	r := h.tokenCall(url.Values{"grant_type": {grantClientCredentials}}, "svc-jwt", serviceSecret)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	access := str(r.json(t)["access_token"])
	for _, step := range []time.Duration{time.Hour + time.Minute, 90 * time.Minute} {
		h.clk.Advance(step)
		h.srv.maintain(context.Background())
	}
	verifyOffline(t, h, access) // fails unless the retired key is still published
}
