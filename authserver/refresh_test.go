package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// TestRefreshFollowsTheClientsAllowedScopes checks that a refresh grants
// only scopes the client is still allowed: a server restarted with a
// narrower client configuration on the same store no longer releases the
// scopes it removed, and refuses a grant left with none, changing nothing.
func TestRefreshFollowsTheClientsAllowedScopes(t *testing.T) {
	tests := []struct {
		name      string
		allowed   []string
		wantScope string // "" when the refresh is refused
	}{
		{"unchanged", []string{"openid", "profile", "email", "groups"}, "openid profile email groups"},
		{"email and groups removed", []string{"openid", "profile"}, "openid profile"},
		{"every granted scope removed", []string{"offline_access"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			verifier, challenge := pkce("tok")
			code := h.browser().withT(t).signIn(authParams(challenge), "alice", alicePassword).Get("code")
			refresh := str(h.exchange(code, verifier)["refresh_token"])

			web := *h.srv.cfg.Directory.Client("web")
			web.Scopes = tt.allowed
			dir, err := directory.New([]directory.User{*h.srv.cfg.Directory.User("alice")}, []directory.Client{web})
			if err != nil {
				t.Fatal(err)
			}
			cfg := h.srv.cfg
			cfg.Directory = dir
			narrowed, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {refresh}}
			req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			rec := httptest.NewRecorder()
			narrowed.ServeHTTP(rec, req)
			var tok map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
				t.Fatalf("token response: %v; body %s", err, rec.Body)
			}

			if tt.wantScope == "" {
				if rec.Code != http.StatusBadRequest || tok["error"] != codeInvalidGrant {
					t.Fatalf("got status %d body %s, want 400 invalid_grant", rec.Code, rec.Body)
				}
				// The refusal did not use the token up.
				if r := h.tokenCall(form, "web", webSecret); r.status != http.StatusOK {
					t.Errorf("refresh at the original server after the refusal: status %d body %s", r.status, r.body)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("refresh: status %d body %s", rec.Code, rec.Body)
			}
			if got := str(tok["scope"]); got != tt.wantScope {
				t.Errorf("scope %q, want %q", got, tt.wantScope)
			}
			if r := h.bearerCall(http.MethodGet, PathAPIMe, str(tok["access_token"])); r.json(t)["scope"] != tt.wantScope {
				t.Errorf("/api/me scope %v, want %q", r.json(t)["scope"], tt.wantScope)
			}
		})
	}
}
