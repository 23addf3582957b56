package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/gatehouse/gatehouse/authserver/directory"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
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

func TestRefresh(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	refresh := func(token, scope, clientID, secret string) *response {
		form := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {token}}
		if scope != "" {
			form.Set("scope", scope)
		}
		return h.tokenCall(form, clientID, secret)
	}
	code, verifier := freshCode(t, b, "openid profile email")
	first := h.exchange(code, verifier)
	rt1 := str(first["refresh_token"])

	h.clk.Advance(time.Hour)
	r := refresh(rt1, "", "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: status %d body %s", r.status, r.body)
	}
	second := r.json(t)
	rt2 := str(second["refresh_token"])
	if rt2 == "" || rt2 == rt1 || second["scope"] != "openid profile email" {
		t.Fatalf("refresh response: new token %v, scope %v", rt2 != rt1, second["scope"])
	}
	idt, err := h.verifier("web").Verify(context.Background(), str(second["id_token"]))
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var c idClaims
	_ = idt.Claims(&c)
	if c.AuthTime != h.clk.Now().Add(-time.Hour).Unix() {
		t.Errorf("refreshed ID token auth_time %d, want the original login time", c.AuthTime)
	}

	t.Run("widening is refused and changes nothing", func(t *testing.T) {
		wantOAuthError(t, refresh(rt2, "openid profile email groups", "web", webSecret), http.StatusBadRequest, codeInvalidScope)
		byOtherClient := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt2}, "client_id": {"spa"}}, "", "")
		wantOAuthError(t, byOtherClient, http.StatusBadRequest, codeInvalidGrant)
		// Nor is a used token presented by another client a reuse: the
		// token is bound to its client, so the family stays.
		usedByOtherClient := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt1}, "client_id": {"spa"}}, "", "")
		wantOAuthError(t, usedByOtherClient, http.StatusBadRequest, codeInvalidGrant)
	})
	var rt3 string
	t.Run("narrowing", func(t *testing.T) {
		r := refresh(rt2, "openid", "web", webSecret)
		if r.status != http.StatusOK {
			t.Fatalf("narrowing refresh: status %d body %s", r.status, r.body)
		}
		m := r.json(t)
		rt3 = str(m["refresh_token"])
		if m["scope"] != "openid" {
			t.Errorf("scope = %v, want openid", m["scope"])
		}
		ui := h.bearerCall(http.MethodGet, PathUserInfo, str(m["access_token"])).json(t)
		if ui["email"] != nil || ui["name"] != nil {
			t.Errorf("userinfo for a narrowed token = %v, want only sub", ui)
		}
		// The refresh token keeps the original grant.
		r = refresh(rt3, "", "web", webSecret)
		if r.status != http.StatusOK || r.json(t)["scope"] != "openid profile email" {
			t.Errorf("after narrowing, the next refresh: status %d scope %v", r.status, r.json(t)["scope"])
		}
		rt3 = str(r.json(t)["refresh_token"])
	})
	t.Run("reuse revokes the family", func(t *testing.T) {
		live := h.bearerCall(http.MethodGet, PathUserInfo, str(second["access_token"]))
		if live.status != http.StatusOK {
			t.Fatalf("access token before the replay: status %d", live.status)
		}
		wantOAuthError(t, refresh(rt1, "", "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
		wantOAuthError(t, refresh(rt3, "", "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
		wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, str(second["access_token"])), http.StatusUnauthorized, codeInvalidToken)
	})
	t.Run("garbage and expired tokens", func(t *testing.T) {
		wantOAuthError(t, refresh("not-a-token", "", "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
		wantOAuthError(t, refresh("", "", "web", webSecret), http.StatusBadRequest, codeInvalidRequest)
		code, verifier := freshCode(t, b, "openid")
		rt := str(h.exchange(code, verifier)["refresh_token"])
		h.clk.Advance(h.srv.cfg.RefreshTokenTTL)
		wantOAuthError(t, refresh(rt, "", "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
	})
}

func TestPublicClientRefreshRotation(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("spa")
	code := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "scope": {"openid offline_access"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "alice", alicePassword).Get("code")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "client_id": {"spa"}, "redirect_uri": {spaRedirect}, "code_verifier": {verifier}}, "", "")
	rt1 := str(r.json(t)["refresh_token"])
	use := func(rt, clientID string) *response {
		return h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt}, "client_id": {clientID}}, "", "")
	}
	r = use(rt1, "spa")
	if r.status != http.StatusOK {
		t.Fatalf("public refresh: status %d body %s", r.status, r.body)
	}
	rt2 := str(r.json(t)["refresh_token"])
	// Another client cannot use it, and trying changes nothing.
	wantOAuthError(t, h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt2}}, "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
	// The stolen first token comes back: the whole family dies.
	wantOAuthError(t, use(rt1, "spa"), http.StatusBadRequest, codeInvalidGrant)
	wantOAuthError(t, use(rt2, "spa"), http.StatusBadRequest, codeInvalidGrant)
}

// TestRefreshTokenIsOpaque checks that a refresh token is a random secret
// and that its row in the store, found by the token's hash, is what holds
// the grant, carried unchanged from token to token.
func TestRefreshTokenIsOpaque(t *testing.T) {
	h := newHarness(t)
	code, verifier := freshCode(t, h.browser(), "openid profile email")
	authTime := h.clk.Now()
	rt1 := str(h.exchange(code, verifier)["refresh_token"])
	if raw, err := base64RawURL(rt1); err != nil || len(raw) != 32 {
		t.Errorf("refresh token %q: got %d bytes (error %v), want 32 random bytes, base64url-encoded", rt1, len(raw), err)
	}
	first, err := h.store.GetRefreshToken(t.Context(), hashSecret(rt1), h.clk.Now())
	if err != nil {
		t.Fatalf("stored row of the refresh token: %v", err)
	}
	want := storage.RefreshToken{
		ID: hashSecret(rt1), FamilyID: familyOf(code), ClientID: "web", Subject: "alice",
		Scopes: []string{"openid", "profile", "email"}, Nonce: "nonce-456", AuthTime: authTime,
		CreatedAt: h.clk.Now(), ExpiresAt: h.clk.Now().Add(h.srv.cfg.RefreshTokenTTL),
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("stored row:\n got %+v\nwant %+v", first, want)
	}

	// A narrowing refresh issues a token for the whole grant (RFC 6749 §6).
	h.clk.Advance(time.Hour)
	r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt1}, "scope": {"openid"}}, "web", webSecret)
	if r.status != http.StatusOK {
		t.Fatalf("refresh: status %d body %s", r.status, r.body)
	}
	rt2 := str(r.json(t)["refresh_token"])
	second, err := h.store.GetRefreshToken(t.Context(), hashSecret(rt2), h.clk.Now())
	if err != nil {
		t.Fatalf("stored row of the rotated-in refresh token: %v", err)
	}
	want.ID, want.CreatedAt, want.ExpiresAt = hashSecret(rt2), h.clk.Now(), h.clk.Now().Add(h.srv.cfg.RefreshTokenTTL)
	if !reflect.DeepEqual(second, want) {
		t.Errorf("rotated-in row:\n got %+v\nwant %+v", second, want)
	}
}

// TestRefreshSurvivesCookieSecretChange checks that refresh tokens depend
// on the store alone: a server started with other cookie secrets on the
// same store accepts them, whether the old secret is still listed for
// decoding or gone. The login session cookie, which the secrets do seal,
// shows that the change took effect.
func TestRefreshSurvivesCookieSecretChange(t *testing.T) {
	fresh := []byte("a cookie secret nobody has used yet, 32+ bytes")
	tests := []struct {
		name        string
		secrets     func(old [][]byte) [][]byte
		sessionKept bool
	}{
		{"rotated, old secret still decodes", func(old [][]byte) [][]byte { return append([][]byte{fresh}, old...) }, true},
		{"replaced", func([][]byte) [][]byte { return [][]byte{fresh} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			b := h.browser()
			verifier, challenge := pkce("tok")
			params := authParams(challenge)
			rt1 := str(h.exchange(b.withT(t).signIn(params, "alice", alicePassword).Get("code"), verifier)["refresh_token"])

			cfg := h.srv.cfg
			cfg.CookieSecrets = tt.secrets(cfg.CookieSecrets)
			restarted, err := New(cfg)
			if err != nil {
				t.Fatalf("New with other cookie secrets: %v", err)
			}

			rec := serve(restarted, http.MethodGet, PathAuthorize+"?"+params.Encode(), nil, b.client.Jar.Cookies(mustURL(t, h.ts.URL))...)
			loc := mustURL(t, rec.Header().Get("Location"))
			if gotKept := loc.Path != PathLogin; gotKept != tt.sessionKept {
				t.Errorf("login session accepted after the change: %v, want %v (redirected to %s)", gotKept, tt.sessionKept, loc)
			}

			req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt1}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			rec = httptest.NewRecorder()
			restarted.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("refresh at the server with other cookie secrets: status %d body %s", rec.Code, rec.Body)
			}
			var tok map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
				t.Fatalf("token response: %v", err)
			}
			if _, err := h.verifier("web").Verify(t.Context(), str(tok["id_token"])); err != nil {
				t.Errorf("ID token from the server with other cookie secrets: %v", err)
			}
			// The rotation is in the store, for either server to see.
			wantOAuthError(t, h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt1}}, "web", webSecret),
				http.StatusBadRequest, codeInvalidGrant)
		})
	}
}

// racingStore is a memory store in which another request rotates the first
// refresh token looked up between the lookup and the rotation that follows
// it, as a second replica might.
type racingStore struct {
	*memory.Store
	once    sync.Once
	otherID string // the token the other request stored
	err     error  // what the other request's rotation returned
}

func (s *racingStore) GetRefreshToken(ctx context.Context, id string, now time.Time) (storage.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, id, now)
	s.once.Do(func() {
		next := t
		next.ID, next.UsedAt = s.otherID, time.Time{}
		_, s.err = s.Store.RotateRefreshToken(ctx, id, next, nil, now)
	})
	return t, err
}

func TestRefreshLosingARaceRevokesTheFamily(t *testing.T) {
	store := &racingStore{Store: memory.New(), otherID: "rotated by the other request"}
	h := newHarness(t, func(c *Config) { c.Store = store })
	code, verifier := freshCode(t, h.browser(), "openid profile")
	tok := h.exchange(code, verifier)

	r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(tok["refresh_token"])}}, "web", webSecret)
	if store.err != nil {
		t.Fatalf("the other request's rotation: %v", store.err)
	}
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
	if !strings.Contains(r.body, "already used") {
		t.Errorf("error description %s, want one saying the token was already used", r.body)
	}
	if _, err := store.GetRefreshToken(t.Context(), store.otherID, h.clk.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the other request's refresh token: got error %v, want %v (family revoked)", err, storage.ErrNotFound)
	}
	wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, str(tok["access_token"])), http.StatusUnauthorized, codeInvalidToken)
}

// TestConcurrentRefreshesHaveAtMostOneWinner presents one refresh token in
// parallel: at most one request may get new tokens, and since the others
// are reuse, none of the family's tokens may survive.
func TestConcurrentRefreshesHaveAtMostOneWinner(t *testing.T) {
	h := newHarness(t)
	code, verifier := freshCode(t, h.browser(), "openid")
	form := url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(h.exchange(code, verifier)["refresh_token"])}}
	const n = 8
	type result struct {
		status int
		body   string
	}
	results := make(chan result, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				results <- result{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			results <- result{resp.StatusCode, string(body)}
		}()
	}
	var winner, winnerAccess string
	for range n {
		r := <-results
		switch {
		case r.status == http.StatusOK && winner != "":
			t.Errorf("two concurrent refreshes of one token succeeded, want one")
		case r.status == http.StatusOK:
			var m map[string]any
			if err := json.Unmarshal([]byte(r.body), &m); err != nil {
				t.Fatalf("token response: %v", err)
			}
			winner, winnerAccess = str(m["refresh_token"]), str(m["access_token"])
		case r.status != http.StatusBadRequest || !strings.Contains(r.body, `"invalid_grant"`):
			t.Errorf("a losing refresh: status %d body %s, want 400 invalid_grant", r.status, r.body)
		}
	}
	// Each loser presented a token already rotated, so the family is
	// revoked. Whether the winner's response got out before that depends on
	// the interleaving (a revocation that lands first makes the winner's
	// token writes fail too), so there may be no winner; either way no token
	// of the family survives.
	if winner != "" {
		wantOAuthError(t, h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {winner}}, "web", webSecret),
			http.StatusBadRequest, codeInvalidGrant)
		wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, winnerAccess), http.StatusUnauthorized, codeInvalidToken)
	}
	wantOAuthError(t, h.tokenCall(form, "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
}
