package authserver

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// algClient is a public client whose ID tokens are signed with alg ("" for
// the server's default).
func algClient(id, alg string) directory.Client {
	return directory.Client{
		ID: id, RedirectURIs: []string{"https://" + id + ".example/cb"},
		Scopes: []string{"openid", "profile"}, AuthMethod: directory.AuthNone,
		GrantTypes: []string{grantAuthorizationCode}, RequirePKCE: true, SigningAlg: alg,
	}
}

// TestIDTokenAlgPerClient runs the code flow on one server for clients that
// ask for RS256, for ES256 and for nothing, under either server default.
// Each ID token is checked by go-oidc knowing only the discovery document
// and the JWKS, and is then accepted back as an id_token_hint.
func TestIDTokenAlgPerClient(t *testing.T) {
	tests := []struct {
		defaultAlg string
		client     string
		want       string
	}{
		{"ES256", "rs-app", "RS256"},
		{"ES256", "es-app", "ES256"},
		{"ES256", "default-app", "ES256"},
		{"RS256", "rs-app", "RS256"},
		{"RS256", "es-app", "ES256"},
		{"RS256", "default-app", "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.defaultAlg+" default, "+tt.client, func(t *testing.T) {
			h := newHarness(t, func(c *Config) {
				c.SigningAlgorithm = tt.defaultAlg
				c.Directory = testDirectory(t, algClient("rs-app", "RS256"), algClient("es-app", "ES256"), algClient("default-app", ""))
			})
			redirect := "https://" + tt.client + ".example/cb"
			verifier, challenge := pkce(tt.client)
			params := url.Values{
				"response_type": {"code"}, "client_id": {tt.client}, "redirect_uri": {redirect},
				"scope": {"openid profile"}, "state": {"st"}, "nonce": {"n-" + tt.client},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			}
			b := h.browser()
			code := b.signIn(params, "alice", alicePassword).Get("code")
			r := h.tokenCall(url.Values{
				"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {redirect},
				"code_verifier": {verifier}, "client_id": {tt.client},
			}, "", "")
			if r.status != http.StatusOK {
				t.Fatalf("token: status %d, body %s", r.status, r.body)
			}
			tok := r.json(t)
			raw := str(tok["id_token"])

			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			if got := jws.Signatures[0].Header.Algorithm; got != tt.want {
				t.Errorf("ID token header alg = %s, want %s", got, tt.want)
			}
			idt, err := h.verifier(tt.client).Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("go-oidc rejects the %s ID token: %v", tt.want, err)
			}
			if idt.Subject != "alice" || idt.Nonce != "n-"+tt.client {
				t.Errorf("ID token sub %q nonce %q", idt.Subject, idt.Nonce)
			}
			if err := idt.VerifyAccessToken(str(tok["access_token"])); err != nil {
				t.Errorf("at_hash of the %s ID token does not match the access token: %v", tt.want, err)
			}

			hinted := callback(t, b.authorize(with(params, "prompt", "none", "id_token_hint", raw)), redirect)
			if hinted.Get("code") == "" {
				t.Errorf("/authorize with the %s ID token as id_token_hint: callback %v, want a code", tt.want, hinted)
			}
		})
	}
}
