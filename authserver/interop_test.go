package authserver

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// Interop clients. Secrets are test-only values.
const (
	interopSecret      = "interop secret, test only"
	interopRedirect    = "https://rp.example/callback"
	interopAfterLogout = "https://rp.example/signed-out"
)

// interopClients are the clients the independent libraries play.
func interopClients(backchannel string) []directory.Client {
	base := directory.Client{
		Secret:                 interopSecret,
		RedirectURIs:           []string{interopRedirect},
		Scopes:                 []string{"openid", "profile", "email", "groups"},
		AuthMethod:             directory.AuthClientSecretBasic,
		GrantTypes:             []string{grantAuthorizationCode, grantRefreshToken},
		RequirePKCE:            true,
		PostLogoutRedirectURIs: []string{interopAfterLogout},
		BackchannelLogoutURI:   backchannel,
	}
	es, rs256 := base, base
	es.ID, es.SigningAlg, es.AccessTokenFormat = "rp-es256", "ES256", directory.AccessTokenJWT
	rs256.ID, rs256.SigningAlg = "rp-rs256", "RS256"
	service := directory.Client{
		ID: "service", Secret: interopSecret,
		Scopes:            []string{"api.read", "api.write"},
		AuthMethod:        directory.AuthClientSecretBasic,
		GrantTypes:        []string{grantClientCredentials},
		AccessTokenFormat: directory.AccessTokenJWT,
	}
	return []directory.Client{es, rs256, service}
}

// TestInteropIndependentClients drives the authserver's whole surface with
// client libraries this project did not write: golang.org/x/oauth2 and
// go-oidc for the code flow, refresh, userinfo, client credentials and
// offline verification, and zitadel/oidc's RP and resource-server packages
// for introspection, revocation and logout. Only the person signing in is
// played by the test's browser.
func TestInteropIndependentClients(t *testing.T) {
	receiver := newLogoutReceiver(t)
	h := newHarness(t, func(c *Config) {
		// The libraries check exp and iat against the real clock.
		c.Now = time.Now
		c.Directory = testDirectory(t, interopClients(receiver.ts.URL)...)
	})
	receiver.issuer = h.ts.URL
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, h.ts.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var discovery struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := provider.Claims(&discovery); err != nil {
		t.Fatal(err)
	}
	keySet := oidc.NewRemoteKeySet(ctx, discovery.JWKS)

	for _, tc := range []struct {
		client string
		alg    string
		jwtAT  bool
	}{
		{"rp-es256", "ES256", true},
		{"rp-rs256", "RS256", false},
	} {
		t.Run(tc.client, func(t *testing.T) {
			conf := oauth2.Config{
				ClientID: tc.client, ClientSecret: interopSecret,
				Endpoint: provider.Endpoint(), RedirectURL: interopRedirect,
				Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
			}
			b := h.browser().withT(t)
			tok, idt, rawID := codeFlow(t, b, &conf, provider, tc.alg)
			if idt.Subject != "alice" {
				t.Errorf("ID token sub %q, want alice", idt.Subject)
			}

			var info struct {
				Email string `json:"email"`
			}
			ui, err := provider.UserInfo(ctx, conf.TokenSource(ctx, tok))
			if err != nil || ui.Subject != "alice" || ui.Claims(&info) != nil || info.Email != "alice@example.com" {
				t.Fatalf("userinfo: %+v, %v", ui, err)
			}

			// Refresh: x/oauth2 refreshes an expired token by itself.
			expired := *tok
			expired.Expiry = time.Now().Add(-time.Minute)
			fresh, err := conf.TokenSource(ctx, &expired).Token()
			if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh: %v (new access token %v, rotated refresh token %v)", err,
					fresh != nil && fresh.AccessToken != tok.AccessToken, fresh != nil && fresh.RefreshToken != tok.RefreshToken)
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: tc.client, SupportedSigningAlgs: []string{tc.alg}}).Verify(ctx, fresh.Extra("id_token").(string)); err != nil {
				t.Errorf("refreshed ID token: %v", err)
			}

			if tc.jwtAT {
				checkJWTAccessToken(t, keySet, fresh.AccessToken, h.ts.URL, tc.client, "alice")
			}

			// Introspection and revocation, by zitadel's packages.
			resource, err := rs.NewResourceServerClientCredentials(ctx, h.ts.URL, tc.client, interopSecret)
			if err != nil {
				t.Fatal(err)
			}
			intro, err := rs.Introspect[*zoidc.IntrospectionResponse](ctx, resource, fresh.AccessToken)
			if err != nil || !intro.Active || intro.Subject != "alice" || intro.ClientID != tc.client {
				t.Fatalf("introspection of a live token: %+v, %v", intro, err)
			}
			// The clients are registered for client_secret_basic.
			relying, err := rp.NewRelyingPartyOIDC(ctx, h.ts.URL, tc.client, interopSecret, interopRedirect, conf.Scopes, rp.WithAuthStyle(oauth2.AuthStyleInHeader))
			if err != nil {
				t.Fatal(err)
			}
			if err := rp.RevokeToken(ctx, relying, fresh.RefreshToken, "refresh_token"); err != nil {
				t.Fatalf("revocation: %v", err)
			}
			intro, err = rs.Introspect[*zoidc.IntrospectionResponse](ctx, resource, fresh.AccessToken)
			if err != nil || intro.Active {
				t.Errorf("access token of a revoked family still active: %+v, %v", intro, err)
			}
			expired = *fresh
			expired.Expiry = time.Now().Add(-time.Minute)
			if _, err := conf.TokenSource(ctx, &expired).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Errorf("refresh with a revoked token: %v, want invalid_grant", err)
			}

			// Logout: zitadel's RP asks the end-session endpoint with the ID
			// token; the browser then follows, and the client's back-channel
			// endpoint hears of it.
			before := len(receiver.received())
			loc, err := rp.EndSession(ctx, relying, rawID, interopAfterLogout, "bye-state", "", nil)
			if err != nil {
				t.Fatalf("end session: %v", err)
			}
			if loc == nil || loc.Path != PathEndSession {
				t.Fatalf("end session sent the client to %v, want the end-session page for the browser", loc)
			}
			done := b.get(loc.String())
			if after := done.location(t); after.Scheme+"://"+after.Host+after.Path != interopAfterLogout || after.Query().Get("state") != "bye-state" {
				t.Errorf("after logout the browser goes to %s, want %s with the state", after, interopAfterLogout)
			}
			_, challenge := pkce("after-logout")
			if again := b.authorize(with(authParams(challenge), "prompt", "none")); again.location(t).Query().Get("error") != codeLoginRequired {
				t.Errorf("after logout, prompt=none got %s, want login_required", again.location(t))
			}
			got := receiver.received()
			if len(got) <= before {
				t.Fatalf("no logout token reached the back-channel endpoint")
			}
			checkLogoutToken(t, got[len(got)-1], h.ts.URL, tc.client, idt)
		})
	}

	t.Run("client credentials", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "service", ClientSecret: interopSecret, TokenURL: provider.Endpoint().TokenURL, Scopes: []string{"api.read"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken != "" || tok.Extra("id_token") != nil || tok.Extra("scope") != "api.read" {
			t.Errorf("client credentials response: refresh %q id_token %v scope %v", tok.RefreshToken, tok.Extra("id_token"), tok.Extra("scope"))
		}
		checkJWTAccessToken(t, keySet, tok.AccessToken, h.ts.URL, "service", "service")

		relying, err := rp.NewRelyingPartyOIDC(ctx, h.ts.URL, "service", interopSecret, "", []string{"api.write"}, rp.WithAuthStyle(oauth2.AuthStyleInHeader))
		if err != nil {
			t.Fatal(err)
		}
		ztok, err := rp.ClientCredentials(ctx, relying, nil)
		if err != nil || ztok.AccessToken == "" {
			t.Fatalf("zitadel client credentials: %v", err)
		}
		if ztok.Extra("scope") != "api.write" {
			t.Errorf("zitadel client credentials scope %v, want api.write", ztok.Extra("scope"))
		}
	})
}

// codeFlow runs the authorization-code flow with PKCE and a nonce for conf,
// the person signing in as alice, and returns the token response and the
// verified ID token.
func codeFlow(t *testing.T, b *browser, conf *oauth2.Config, provider *oidc.Provider, alg string) (*oauth2.Token, *oidc.IDToken, string) {
	t.Helper()
	ctx := t.Context()
	verifier, state, nonce := oauth2.GenerateVerifier(), newSecret(), newSecret()
	u, err := url.Parse(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
	if err != nil {
		t.Fatal(err)
	}
	cb := b.signIn(u.Query(), "alice", alicePassword)
	if cb.Get("state") != state {
		t.Fatalf("state %q, want %q", cb.Get("state"), state)
	}
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if got := jwsHeader(t, raw).Algorithm; got != alg {
		t.Errorf("ID token alg %s, want %s", got, alg)
	}
	return tok, idt, raw
}

func jwsHeader(t *testing.T, token string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("parsing JWS: %v", err)
	}
	return jws.Signatures[0].Header
}

// checkJWTAccessToken verifies an RFC 9068 access token offline, with
// nothing but the published keys.
func checkJWTAccessToken(t *testing.T, keys *oidc.RemoteKeySet, token, issuer, clientID, subject string) {
	t.Helper()
	payload, err := keys.VerifySignature(t.Context(), token)
	if err != nil {
		t.Fatalf("JWT access token signature: %v", err)
	}
	if typ := jwsHeader(t, token).ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ %v, want at+jwt", typ)
	}
	var c struct {
		Issuer   string `json:"iss"`
		Subject  string `json:"sub"`
		Audience any    `json:"aud"`
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		Expiry   int64  `json:"exp"`
		IssuedAt int64  `json:"iat"`
		ID       string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != issuer || c.Subject != subject || c.ClientID != clientID || c.Scope == "" || c.ID == "" || c.Audience == nil ||
		c.IssuedAt > time.Now().Unix() || c.Expiry <= time.Now().Unix() {
		t.Errorf("JWT access token claims %+v", c)
	}
}

// checkLogoutToken checks the claims of a back-channel logout token, whose
// signature and typ the receiver verified (OpenID Connect Back-Channel
// Logout 1.0 §2.4, §2.6), against the ID token of the ended session.
func checkLogoutToken(t *testing.T, claims map[string]any, issuer, clientID string, idt *oidc.IDToken) {
	t.Helper()
	var idc struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok {
		t.Errorf("logout token events %v", claims["events"])
	}
	if _, ok := claims["nonce"]; ok || claims["jti"] == "" || claims["iss"] != issuer || claims["aud"] != clientID {
		t.Errorf("logout token claims %v", claims)
	}
	if claims["sub"] != idt.Subject || idc.SID == "" || claims["sid"] != idc.SID {
		t.Errorf("logout token sub %v sid %v, want the ID token's %q %q", claims["sub"], claims["sid"], idt.Subject, idc.SID)
	}
}
