package authserver

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// verifier returns a go-oidc ID token verifier for clientID that discovers
// the test server like any relying party would.
func (h *harness) verifier(clientID string) *oidc.IDTokenVerifier {
	h.t.Helper()
	ctx := oidc.ClientContext(context.Background(), h.ts.Client())
	provider, err := oidc.NewProvider(ctx, h.ts.URL)
	if err != nil {
		h.t.Fatalf("discovery with go-oidc: %v", err)
	}
	return provider.VerifierContext(ctx, &oidc.Config{ClientID: clientID, Now: h.clk.Now})
}

type idClaims struct {
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Groups            []string `json:"groups"`
	AuthorizedParty   string   `json:"azp"`
	AuthTime          int64    `json:"auth_time"`
}

func TestWholeFlow(t *testing.T) {
	tests := []struct {
		name       string
		alg        string
		client     string
		secret     string
		redirect   string
		scope      string
		pkce       bool
		postSecret bool // client_secret_post rather than Basic
		public     bool
		wantScope  string
		wantClaims idClaims // zero: no ID token expected
		wantRT     bool
	}{
		{
			name: "confidential Basic + PKCE, ES256", alg: "ES256", client: "web", secret: webSecret, redirect: webRedirect,
			scope: "openid profile email groups unknown", pkce: true, wantScope: "openid profile email groups", wantRT: true,
			wantClaims: idClaims{Name: "Alice Example", PreferredUsername: "alice", Email: "alice@example.com", Groups: []string{"admins", "dev"}},
		},
		{
			name: "confidential Basic + PKCE, RS256", alg: "RS256", client: "web", secret: webSecret, redirect: webRedirect,
			scope: "openid email", pkce: true, wantScope: "openid email", wantRT: true,
			wantClaims: idClaims{Email: "alice@example.com"},
		},
		{
			name: "client_secret_post with bcrypt secret", client: "post", secret: postSecret, redirect: postRedirect,
			scope: "openid profile", pkce: true, postSecret: true, wantScope: "openid profile",
			wantClaims: idClaims{Name: "Alice Example", PreferredUsername: "alice"},
		},
		{
			name: "public client with PKCE", client: "spa", redirect: spaRedirect,
			scope: "openid offline_access", pkce: true, public: true, wantScope: "openid offline_access", wantRT: true,
			wantClaims: idClaims{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.SigningAlgorithm = tt.alg })
			b := h.browser()
			verifier, challenge := pkce("flow")
			params := url.Values{
				"response_type": {"code"}, "client_id": {tt.client}, "redirect_uri": {tt.redirect},
				"scope": {tt.scope}, "state": {"st-" + tt.client}, "nonce": {"n-" + tt.client},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			}
			cb := b.signIn(params, "alice", alicePassword)
			if cb.Get("state") != "st-"+tt.client {
				t.Errorf("state = %q, want it echoed", cb.Get("state"))
			}
			if cb.Get("iss") != h.ts.URL {
				t.Errorf("iss = %q, want %q", cb.Get("iss"), h.ts.URL)
			}
			code := cb.Get("code")
			if raw, _ := base64RawURL(code); len(raw) < 16 {
				t.Errorf("code %q carries %d bytes, want at least 16", code, len(raw))
			}

			form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {tt.redirect}, "code_verifier": {verifier}}
			var r *response
			switch {
			case tt.public:
				form.Set("client_id", tt.client)
				r = h.tokenCall(form, "", "")
			case tt.postSecret:
				form.Set("client_id", tt.client)
				form.Set("client_secret", tt.secret)
				r = h.tokenCall(form, "", "")
			default:
				r = h.tokenCall(form, tt.client, tt.secret)
			}
			if r.status != http.StatusOK {
				t.Fatalf("token: status %d, body %s", r.status, r.body)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			tok := r.json(t)
			if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) || tok["scope"] != tt.wantScope {
				t.Errorf("token_type %v, expires_in %v, scope %v; want Bearer, 3600, %q", tok["token_type"], tok["expires_in"], tok["scope"], tt.wantScope)
			}
			if _, got := tok["refresh_token"]; got != tt.wantRT {
				t.Errorf("refresh_token present: %v, want %v", got, tt.wantRT)
			}
			access, _ := tok["access_token"].(string)

			raw, _ := tok["id_token"].(string)
			idt, err := h.verifier(tt.client).Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("go-oidc rejects the ID token: %v", err)
			}
			if idt.Subject != "alice" || idt.Nonce != "n-"+tt.client || idt.Issuer != h.ts.URL {
				t.Errorf("ID token sub %q nonce %q iss %q", idt.Subject, idt.Nonce, idt.Issuer)
			}
			if err := idt.VerifyAccessToken(access); err != nil {
				t.Errorf("at_hash does not match the access token: %v", err)
			}
			if !idt.Expiry.Equal(h.clk.Now().Add(h.srv.cfg.IDTokenTTL)) {
				t.Errorf("exp = %v, want now + ID token TTL", idt.Expiry)
			}
			var got idClaims
			if err := idt.Claims(&got); err != nil {
				t.Fatal(err)
			}
			if got.AuthorizedParty != tt.client || got.AuthTime != h.clk.Now().Unix() {
				t.Errorf("azp %q auth_time %d, want %q %d", got.AuthorizedParty, got.AuthTime, tt.client, h.clk.Now().Unix())
			}
			if got.Name != tt.wantClaims.Name || got.PreferredUsername != tt.wantClaims.PreferredUsername ||
				got.Email != tt.wantClaims.Email || !slices.Equal(got.Groups, tt.wantClaims.Groups) {
				t.Errorf("claims = %+v, want %+v", got, tt.wantClaims)
			}
			if (got.EmailVerified != nil) != (tt.wantClaims.Email != "") {
				t.Errorf("email_verified present = %v, want %v", got.EmailVerified != nil, tt.wantClaims.Email != "")
			}

			// The same claims from /userinfo, by GET and by POST.
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				ui := h.bearerCall(method, PathUserInfo, access)
				if ui.status != http.StatusOK {
					t.Fatalf("%s userinfo: status %d body %s", method, ui.status, ui.body)
				}
				m := ui.json(t)
				if m["sub"] != "alice" || (m["name"] != nil) != (tt.wantClaims.Name != "") || (m["email"] != nil) != (tt.wantClaims.Email != "") {
					t.Errorf("%s userinfo = %v, want claims %+v", method, m, tt.wantClaims)
				}
			}

			// Nothing secret reaches the log.
			logs := h.logs.String()
			for name, secret := range map[string]string{"code": code, "access token": access, "ID token": raw,
				"refresh token": str(tok["refresh_token"]), "password": alicePassword, "client secret": tt.secret, "verifier": verifier} {
				if secret != "" && strings.Contains(logs, secret) {
					t.Errorf("the log contains the %s", name)
				}
			}
		})
	}
}

// TestTutorialClient walks the tutorial's client.py: fixed state, scope
// profile only, no PKCE, Basic auth, then /api/me.
func TestTutorialClient(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	params := url.Values{
		"response_type": {"code"}, "client_id": {"client_1"}, "redirect_uri": {legacyRedirect},
		"scope": {"profile"}, "state": {"xyz123"},
	}
	cb := b.signIn(params, "id001", "mypassword")
	if cb.Get("state") != "xyz123" {
		t.Fatalf("state = %q, want xyz123", cb.Get("state"))
	}
	// requests.auth.HTTPBasicAuth does not form-encode; these values need none.
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {legacyRedirect},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("client_1", tutorialSecret)
	r := do(t, h.ts.Client(), req)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d body %s", r.status, r.body)
	}
	tok := r.json(t)
	if _, ok := tok["id_token"]; ok {
		t.Error("got an id_token without the openid scope")
	}
	if _, ok := tok["refresh_token"]; ok {
		t.Error("got a refresh_token for a client without the refresh_token grant")
	}
	me := h.bearerCall(http.MethodGet, PathAPIMe, str(tok["access_token"]))
	if me.status != http.StatusOK {
		t.Fatalf("/api/me: status %d body %s", me.status, me.body)
	}
	got := me.json(t)
	want := map[string]any{"client_id": "client_1", "user_id": "id001", "scope": "profile", "sub": "id001"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("/api/me %s = %v, want %v", k, got[k], v)
		}
	}
	// /userinfo is OpenID Connect: it needs the openid scope.
	ui := h.bearerCall(http.MethodGet, PathUserInfo, str(tok["access_token"]))
	wantOAuthError(t, ui, http.StatusForbidden, codeInsufficientScope)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
