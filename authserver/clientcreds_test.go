package authserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

const serviceSecret = "service secret & more=%+"

// serviceClients are clients that act for themselves.
func serviceClients() []directory.Client {
	return []directory.Client{
		{
			ID: "svc", Secret: serviceSecret,
			Scopes:     []string{"openid", "api.read", "api.write", "offline_access"},
			AuthMethod: directory.AuthClientSecretBasic,
			GrantTypes: []string{grantClientCredentials},
		},
		{
			ID: "svc-post", Secret: serviceSecret,
			Scopes:     []string{"api.read"},
			AuthMethod: directory.AuthClientSecretPost,
			GrantTypes: []string{grantClientCredentials},
		},
		{
			// Configuration refuses this; the token endpoint must too.
			ID:         "svc-public",
			Scopes:     []string{"api.read"},
			AuthMethod: directory.AuthNone,
			GrantTypes: []string{grantClientCredentials},
		},
		{
			ID: "svc-user-scopes-only", Secret: serviceSecret,
			Scopes:     []string{"openid", "offline_access"},
			AuthMethod: directory.AuthClientSecretBasic,
			GrantTypes: []string{grantClientCredentials},
		},
	}
}

func newServiceHarness(t *testing.T, extra ...directory.Client) *harness {
	t.Helper()
	dir := testDirectory(t, append(serviceClients(), extra...)...)
	return newHarness(t, func(c *Config) { c.Directory = dir })
}

// accessTokensStored counts the access tokens in h's store, by letting
// them all expire and collecting them; it leaves the store empty of them.
func accessTokensStored(t *testing.T, h *harness) int64 {
	t.Helper()
	h.clk.Advance(h.srv.cfg.AccessTokenTTL + time.Second)
	res, err := h.store.GarbageCollect(context.Background(), h.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return res.AccessTokens
}

func TestClientCredentials(t *testing.T) {
	ccForm := func(kv ...string) url.Values {
		f := url.Values{"grant_type": {grantClientCredentials}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name        string
		form        url.Values
		basicID     string
		basicSecret string
		status      int
		errCode     string
		wantScope   string // on success
		descHas     string // on failure, part of error_description
	}{
		{"Basic, no scope: every scope usable without a user", ccForm(), "svc", serviceSecret, http.StatusOK, "", "api.read api.write", ""},
		{"Basic, narrowed scope", ccForm("scope", "api.write"), "svc", serviceSecret, http.StatusOK, "", "api.write", ""},
		{"client_secret_post", ccForm("client_id", "svc-post", "client_secret", serviceSecret, "scope", "api.read"), "", "", http.StatusOK, "", "api.read", ""},
		{"wrong secret", ccForm(), "svc", "wrong", http.StatusUnauthorized, codeInvalidClient, "", "secret"},
		{"wrong method", ccForm("client_id", "svc", "client_secret", serviceSecret), "", "", http.StatusUnauthorized, codeInvalidClient, "", "client_secret_basic"},
		{"public client", ccForm("client_id", "svc-public"), "", "", http.StatusBadRequest, codeUnauthorizedClient, "", "confidential"},
		{"grant not allowed for the client", ccForm(), "web", webSecret, http.StatusBadRequest, codeUnauthorizedClient, "", "may not use grant_type client_credentials"},
		{"scope outside the client's", ccForm("scope", "api.read admin"), "svc", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "scope admin is not allowed for client svc; allowed: api.read api.write"},
		{"openid needs a user", ccForm("scope", "api.read openid"), "svc", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "scope openid needs a user"},
		{"offline_access needs a user", ccForm("scope", "offline_access"), "svc", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "scope offline_access needs a user"},
		{"empty scope", ccForm("scope", ""), "svc", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "omit it"},
		{"malformed scope", ccForm("scope", "api\\read"), "svc", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "not allowed in a scope token"},
		{"client without scopes usable without a user", ccForm(), "svc-user-scopes-only", serviceSecret, http.StatusBadRequest, codeInvalidScope, "", "no scope it may be granted without a user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newServiceHarness(t)
			r := h.tokenCall(tt.form, tt.basicID, tt.basicSecret)
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
			}
			if tt.errCode != "" {
				wantOAuthError(t, r, tt.status, tt.errCode)
				if desc := str(r.json(t)["error_description"]); !strings.Contains(desc, tt.descHas) {
					t.Errorf("error_description %q lacks %q", desc, tt.descHas)
				}
				if n := accessTokensStored(t, h); n != 0 {
					t.Errorf("a refused request stored %d access tokens", n)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			tok := r.json(t)
			if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) || tok["scope"] != tt.wantScope {
				t.Errorf("got %v, want a Bearer token for an hour with scope %q", tok, tt.wantScope)
			}
			for _, absent := range []string{"refresh_token", "id_token"} {
				if _, ok := tok[absent]; ok {
					t.Errorf("response has %s; a client acting for itself gets none", absent)
				}
			}
			row, err := h.store.GetAccessToken(context.Background(), hashSecret(str(tok["access_token"])), h.clk.Now())
			if err != nil {
				t.Fatalf("stored access token: %v", err)
			}
			if row.Subject != "" || row.FamilyID != "" || strings.Join(row.Scopes, " ") != tt.wantScope {
				t.Errorf("stored row %+v, want no subject, no family, scope %q", row, tt.wantScope)
			}
		})
	}
}

// TestClientCredentialsAtResourceEndpoints checks what a token a client got
// for itself is good for: /api/me names the client as subject and no user;
// userinfo, which is about a user, refuses it.
func TestClientCredentialsAtResourceEndpoints(t *testing.T) {
	h := newServiceHarness(t)
	r := h.tokenCall(url.Values{"grant_type": {grantClientCredentials}}, "svc", serviceSecret)
	if r.status != http.StatusOK {
		t.Fatalf("token: status %d, body %s", r.status, r.body)
	}
	access := str(r.json(t)["access_token"])

	me := h.bearerCall(http.MethodGet, PathAPIMe, access)
	if me.status != http.StatusOK {
		t.Fatalf("/api/me: status %d, body %s", me.status, me.body)
	}
	got := me.json(t)
	want := map[string]any{"client_id": "svc", "sub": "svc", "scope": "api.read api.write"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("/api/me %s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["user_id"]; ok {
		t.Errorf("/api/me has user_id for a token without user: %s", me.body)
	}

	ui := h.bearerCall(http.MethodGet, PathUserInfo, access)
	wantOAuthError(t, ui, http.StatusForbidden, codeInsufficientScope)
	if desc := str(ui.json(t)["error_description"]); !strings.Contains(desc, "not for a user") {
		t.Errorf("userinfo error_description %q does not say the token has no user", desc)
	}
	if got := ui.header.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="openid"` {
		t.Errorf("userinfo WWW-Authenticate %q", got)
	}
}

// TestClientCredentialsWithOAuth2Library has golang.org/x/oauth2's
// clientcredentials package, as a service would use it, fetch a token with
// each authentication method and call /api/me with it.
func TestClientCredentialsWithOAuth2Library(t *testing.T) {
	tests := []struct {
		client string
		style  oauth2.AuthStyle
		scopes []string
		want   string
	}{
		{"svc", oauth2.AuthStyleInHeader, nil, "api.read api.write"},
		{"svc", oauth2.AuthStyleInHeader, []string{"api.read"}, "api.read"},
		{"svc-post", oauth2.AuthStyleInParams, []string{"api.read"}, "api.read"},
	}
	for _, tt := range tests {
		t.Run(tt.client+"/"+strings.Join(tt.scopes, "+"), func(t *testing.T) {
			h := newServiceHarness(t)
			cfg := clientcredentials.Config{
				ClientID:     tt.client,
				ClientSecret: serviceSecret,
				TokenURL:     h.ts.URL + PathToken,
				Scopes:       tt.scopes,
				AuthStyle:    tt.style,
			}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, h.ts.Client())
			tok, err := cfg.Token(ctx)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.RefreshToken != "" || tok.Extra("scope") != tt.want {
				t.Errorf("token: refresh %q scope %v, want no refresh token and scope %q", tok.RefreshToken, tok.Extra("scope"), tt.want)
			}
			resp, err := cfg.Client(ctx).Get(h.ts.URL + PathAPIMe)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var me map[string]any
			if err := json.Unmarshal(body, &me); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("/api/me: status %d, body %s", resp.StatusCode, body)
			}
			if me["sub"] != tt.client || me["scope"] != tt.want {
				t.Errorf("/api/me: got %v, want sub %s and scope %q", me, tt.client, tt.want)
			}
		})
	}
}
