package proxy

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestUserinfoEndpoint(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	if r := b.do(http.MethodGet, e.srv.URL+userinfoPath, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo without a session: got %d, want 401", r.StatusCode)
	}
	e.signIn(b, "/")
	r := b.do(http.MethodGet, e.srv.URL+userinfoPath, nil)
	var got struct {
		Sub       string   `json:"sub"`
		Email     string   `json:"email"`
		Groups    []string `json:"groups"`
		ExpiresAt string   `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: got %d %q (%v), want 200 JSON", r.StatusCode, r.body, err)
	}
	if got.Sub != "user-42" || got.Email != "ada@example.com" || !slices.Equal(got.Groups, []string{"eng", "ops"}) || got.ExpiresAt == "" {
		t.Fatalf("userinfo: got %+v", got)
	}
	if strings.Contains(r.body, "token") {
		t.Fatalf("userinfo must not reveal tokens to scripts: %s", r.body)
	}
}
