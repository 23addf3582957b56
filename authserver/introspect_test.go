package authserver

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

func TestIntrospect(t *testing.T) {
	inactive := map[string]any{"active": false}
	tests := []struct {
		name string
		// prepare changes the server's state before the call and returns
		// the token to introspect.
		prepare            func(t *testing.T, h *harness, g webGrant) string
		clientID, secret   string // Basic credentials
		extra              url.Values
		want               func(h *harness) map[string]any // nil: an error
		status             int
		errCode, errDetail string
	}{
		{name: "access token", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			clientID: "web", secret: webSecret, status: http.StatusOK,
			want: func(h *harness) map[string]any {
				return map[string]any{"active": true, "scope": "openid profile email", "client_id": "web", "username": "alice",
					"token_type": "Bearer", "exp": float64(h.clk.Now().Add(h.srv.cfg.AccessTokenTTL).Unix()),
					"iat": float64(h.clk.Now().Unix()), "sub": "alice", "aud": "web", "iss": h.ts.URL}
			}},
		{name: "refresh token, whatever the hint", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.rt2 },
			clientID: "web", secret: webSecret, extra: url.Values{"token_type_hint": {"id_token"}}, status: http.StatusOK,
			want: func(h *harness) map[string]any {
				return map[string]any{"active": true, "scope": "openid profile email", "client_id": "web", "username": "alice",
					"token_type": "refresh_token", "exp": float64(h.clk.Now().Add(h.srv.cfg.RefreshTokenTTL).Unix()),
					"iat": float64(h.clk.Now().Unix()), "sub": "alice", "aud": "web", "iss": h.ts.URL}
			}},
		{name: "client credentials token: no user", prepare: func(t *testing.T, h *harness, _ webGrant) string {
			return storeAccessToken(t, h, "")
		}, clientID: "web", secret: webSecret, status: http.StatusOK,
			want: func(h *harness) map[string]any {
				return map[string]any{"active": true, "scope": "groups", "client_id": "web",
					"token_type": "Bearer", "exp": float64(h.clk.Now().Add(time.Minute).Unix()),
					"iat": float64(h.clk.Now().Unix()), "sub": "web", "aud": "web", "iss": h.ts.URL}
			}},
		{name: "token of a user no longer configured", prepare: func(t *testing.T, h *harness, _ webGrant) string {
			return storeAccessToken(t, h, "carol")
		}, clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "used refresh token", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.rt1 },
			clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "expired access token", prepare: func(_ *testing.T, h *harness, g webGrant) string {
			h.clk.Advance(h.srv.cfg.AccessTokenTTL)
			return g.at2
		}, clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "access token of a revoked grant", prepare: func(t *testing.T, h *harness, g webGrant) string {
			if r := h.clientCall(PathRevoke, url.Values{"token": {g.rt2}}, "web", webSecret); r.status != http.StatusOK {
				t.Fatalf("revoke: status %d body %s", r.status, r.body)
			}
			return g.at2
		}, clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "revoked access token", prepare: func(t *testing.T, h *harness, g webGrant) string {
			if r := h.clientCall(PathRevoke, url.Values{"token": {g.at2}}, "web", webSecret); r.status != http.StatusOK {
				t.Fatalf("revoke: status %d body %s", r.status, r.body)
			}
			return g.at2
		}, clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "token of another client", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			clientID: "client_1", secret: tutorialSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "unknown token", prepare: func(*testing.T, *harness, webGrant) string { return newSecret() },
			clientID: "web", secret: webSecret, status: http.StatusOK, want: func(*harness) map[string]any { return inactive }},
		{name: "client_secret_post", prepare: func(*testing.T, *harness, webGrant) string { return newSecret() },
			extra: url.Values{"client_id": {"post"}, "client_secret": {postSecret}}, status: http.StatusOK,
			want: func(*harness) map[string]any { return inactive }},
		{name: "public client", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			extra: url.Values{"client_id": {"spa"}}, status: http.StatusUnauthorized, errCode: codeInvalidClient, errDetail: "client secret"},
		{name: "wrong secret", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			clientID: "web", secret: "wrong", status: http.StatusUnauthorized, errCode: codeInvalidClient, errDetail: "secret"},
		{name: "wrong method", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			clientID: "post", secret: postSecret, status: http.StatusUnauthorized, errCode: codeInvalidClient, errDetail: "client_secret_post"},
		{name: "no client authentication", prepare: func(_ *testing.T, _ *harness, g webGrant) string { return g.at2 },
			status: http.StatusUnauthorized, errCode: codeInvalidClient, errDetail: "missing"},
		{name: "token too long", prepare: func(*testing.T, *harness, webGrant) string { return strings.Repeat("a", maxTokenLen+1) },
			clientID: "web", secret: webSecret, status: http.StatusBadRequest, errCode: codeInvalidRequest, errDetail: "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			g := newWebGrant(t, h)
			form := url.Values{"token": {tt.prepare(t, h, g)}}
			for k, v := range tt.extra {
				form[k] = v
			}
			r := h.clientCall(PathIntrospect, form, tt.clientID, tt.secret)
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if tt.want == nil {
				wantOAuthError(t, r, tt.status, tt.errCode)
				if d, _ := r.json(t)["error_description"].(string); !strings.Contains(d, tt.errDetail) {
					t.Errorf("error_description %q, want it to mention %q", d, tt.errDetail)
				}
				return
			}
			if r.status != tt.status || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got status %d, Content-Type %q, body %s; want %d JSON", r.status, r.header.Get("Content-Type"), r.body, tt.status)
			}
			if got, want := r.json(t), tt.want(h); !reflect.DeepEqual(got, want) {
				t.Errorf("introspection:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// storeAccessToken stores an access token of client "web" for subject,
// living one minute, as another grant (client credentials, or one whose
// user was removed since) leaves it, and returns the token.
func storeAccessToken(t *testing.T, h *harness, subject string) string {
	t.Helper()
	token := newSecret()
	err := h.store.CreateAccessToken(t.Context(), storage.AccessToken{
		ID: hashSecret(token), ClientID: "web", Subject: subject, Scopes: []string{"groups"},
		CreatedAt: h.clk.Now(), ExpiresAt: h.clk.Now().Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return token
}
