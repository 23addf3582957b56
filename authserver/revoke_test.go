package authserver

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// webGrant is one grant of alice to client "web", refreshed once: at1 and
// rt1 came from the code, at2 and rt2 from the refresh, so rt1 is used.
type webGrant struct{ at1, rt1, at2, rt2 string }

func newWebGrant(t *testing.T, h *harness) webGrant {
	t.Helper()
	code, verifier := freshCode(t, h.browser(), "openid profile email")
	first := h.exchange(code, verifier)
	h.clk.Advance(time.Minute)
	r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(first["refresh_token"])}}, "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: status %d body %s", r.status, r.body)
	}
	second := r.json(t)
	return webGrant{str(first["access_token"]), str(first["refresh_token"]), str(second["access_token"]), str(second["refresh_token"])}
}

// checkLive checks which of the grant's access tokens work at /userinfo
// and whether rt2 still refreshes. The refresh runs last, as it uses rt2.
func (g webGrant) checkLive(t *testing.T, h *harness, at1, at2, rt2 bool) {
	t.Helper()
	for _, c := range []struct {
		name, token string
		live        bool
	}{{"at1", g.at1, at1}, {"at2", g.at2, at2}} {
		r := h.bearerCall(http.MethodGet, PathUserInfo, c.token)
		if got := r.status == http.StatusOK; got != c.live {
			t.Errorf("%s works at /userinfo: %v, want %v (status %d body %s)", c.name, got, c.live, r.status, r.body)
		}
	}
	r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {g.rt2}}, "web", webSecret)
	switch {
	case rt2 && r.status != http.StatusOK:
		t.Errorf("refresh with rt2: status %d body %s, want 200", r.status, r.body)
	case !rt2:
		wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
	}
}

func TestRevoke(t *testing.T) {
	form := func(token string, kv ...string) url.Values {
		f := url.Values{"token": {token}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	tests := []struct {
		name string
		call func(h *harness, g webGrant) *response
		// status and errCode are the expected answer; errCode "" means
		// 200 with an empty body.
		status        int
		errCode       string
		at1, at2, rt2 bool // which tokens live afterwards
	}{
		{"refresh token revokes its family", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2), "web", webSecret)
		}, http.StatusOK, "", false, false, false},
		{"used refresh token revokes its family too", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt1, "token_type_hint", hintRefreshToken), "web", webSecret)
		}, http.StatusOK, "", false, false, false},
		{"refresh token under the access_token hint", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2, "token_type_hint", hintAccessToken), "web", webSecret)
		}, http.StatusOK, "", false, false, false},
		{"access token alone", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.at2), "web", webSecret)
		}, http.StatusOK, "", true, false, true},
		{"access token under the refresh_token hint", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.at1, "token_type_hint", hintRefreshToken), "web", webSecret)
		}, http.StatusOK, "", false, true, true},
		{"unknown token", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(newSecret()), "web", webSecret)
		}, http.StatusOK, "", true, true, true},
		{"refresh token of another client", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2), "client_1", tutorialSecret)
		}, http.StatusOK, "", true, true, true},
		{"access token of another client, by a public client", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.at2, "client_id", "spa"), "", "")
		}, http.StatusOK, "", true, true, true},
		{"unsupported hint", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2, "token_type_hint", "id_token"), "web", webSecret)
		}, http.StatusBadRequest, codeUnsupportedTokenType, true, true, true},
		{"wrong secret", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2), "web", "wrong")
		}, http.StatusUnauthorized, codeInvalidClient, true, true, true},
		{"wrong method: secret in the form for a Basic client", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2, "client_id", "web", "client_secret", webSecret), "", "")
		}, http.StatusUnauthorized, codeInvalidClient, true, true, true},
		{"confidential client without its secret", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2, "client_id", "web"), "", "")
		}, http.StatusUnauthorized, codeInvalidClient, true, true, true},
		{"no client authentication", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2), "", "")
		}, http.StatusUnauthorized, codeInvalidClient, true, true, true},
		{"token missing", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, url.Values{}, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, true, true, true},
		{"token repeated", func(h *harness, g webGrant) *response {
			return h.clientCall(PathRevoke, form(g.rt2, "token", g.at2), "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, true, true, true},
		{"GET", func(h *harness, g webGrant) *response {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+PathRevoke+"?"+form(g.rt2).Encode(), nil)
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			return do(t, h.ts.Client(), req)
		}, http.StatusMethodNotAllowed, codeInvalidRequest, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			g := newWebGrant(t, h)
			r := tt.call(h, g)
			if tt.errCode == "" {
				if r.status != tt.status || r.body != "" {
					t.Errorf("got status %d body %q, want %d with an empty body", r.status, r.body, tt.status)
				}
			} else {
				wantOAuthError(t, r, tt.status, tt.errCode)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			g.checkLive(t, h, tt.at1, tt.at2, tt.rt2)
		})
	}
}

// TestPublicClientRevokesItsOwnGrant checks that a public client, which
// authenticates with its client_id alone, can end its own grant.
func TestPublicClientRevokesItsOwnGrant(t *testing.T) {
	h := newHarness(t)
	verifier, challenge := pkce("spa")
	code := h.browser().signIn(url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "scope": {"openid offline_access"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "alice", alicePassword).Get("code")
	tok := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "code_verifier": {verifier}}, "", "").json(t)

	r := h.clientCall(PathRevoke, url.Values{"token": {str(tok["refresh_token"])}, "client_id": {"spa"}}, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("revocation by the public client: status %d body %s", r.status, r.body)
	}
	wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, str(tok["access_token"])), http.StatusUnauthorized, codeInvalidToken)
	wantOAuthError(t, h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(tok["refresh_token"])}, "client_id": {"spa"}}, "", ""),
		http.StatusBadRequest, codeInvalidGrant)
}

// TestDiscoveryAdvertisesRevocationAndIntrospection checks that discovery
// (RFC 8414 §2) names both endpoints and exactly the client authentication
// methods each accepts.
func TestDiscoveryAdvertisesRevocationAndIntrospection(t *testing.T) {
	h := newHarness(t)
	doc := h.browser().get(PathDiscovery).json(t)
	for k, want := range map[string]any{
		"revocation_endpoint":                           h.ts.URL + PathRevoke,
		"introspection_endpoint":                        h.ts.URL + PathIntrospect,
		"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
	} {
		if !reflect.DeepEqual(doc[k], want) {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}
}
