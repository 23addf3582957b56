package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/authserver/storage/memory"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore"
	"github.com/gatehouse/gatehouse/authserver/storage/sqlstore/sqltest"
)

// freshCode signs alice in with client "web" and returns a new code and its
// verifier.
func freshCode(t *testing.T, b *browser, scope string) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkce("tok")
	q := b.withT(t).signIn(with(authParams(challenge), "scope", scope), "alice", alicePassword)
	return q.Get("code"), verifier
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	codeForm := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	}
	tests := []struct {
		name    string
		call    func(code, verifier string) *response
		status  int
		errCode string
		// challenge is the WWW-Authenticate prefix, if any. Every 401 has
		// one (RFC 9110 §11.6.1); Basic is the scheme clients may use.
		challenge  string
		codeIsUsed bool // whether the code is consumed by the failed call
	}{
		{"wrong client secret", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "web", "wrong") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"unknown client", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "nobody", "x") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"secret not form-decoded by the client", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(codeForm(c, v).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", webSecret) // raw "%+" decodes to something else
			return do(t, h.ts.Client(), req)
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"secret in the form for a Basic client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_id", "web")
			f.Set("client_secret", webSecret)
			return h.tokenCall(f, "", "")
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"no authentication for a confidential client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_id", "web")
			return h.tokenCall(f, "", "")
		}, http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"no client at all", func(c, v string) *response { return h.tokenCall(codeForm(c, v), "", "") },
			http.StatusUnauthorized, codeInvalidClient, "Basic realm=", false},
		{"Basic and client_secret together", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("client_secret", webSecret)
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"unsupported grant type", func(c, v string) *response {
			return h.tokenCall(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, "web", webSecret)
		}, http.StatusBadRequest, codeUnsupportedGrantType, "", false},
		{"missing grant type", func(c, v string) *response { return h.tokenCall(url.Values{"code": {c}}, "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", false},
		{"grant not allowed for the client", func(c, v string) *response {
			return h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {"x"}}, "client_1", tutorialSecret)
		}, http.StatusBadRequest, codeUnauthorizedClient, "", false},
		{"missing code", func(c, v string) *response { return h.tokenCall(codeForm("", v), "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", false},
		{"repeated parameter", func(c, v string) *response {
			f := codeForm(c, v)
			f.Add("code", "other")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"unknown code", func(c, v string) *response { return h.tokenCall(codeForm(newSecret(), v), "web", webSecret) },
			http.StatusBadRequest, codeInvalidGrant, "", false},
		{"wrong verifier", func(c, v string) *response {
			other, _ := pkce("other")
			return h.tokenCall(codeForm(c, other), "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"missing verifier", func(c, v string) *response { return h.tokenCall(codeForm(c, ""), "web", webSecret) },
			http.StatusBadRequest, codeInvalidRequest, "", true},
		{"malformed verifier", func(c, v string) *response { return h.tokenCall(codeForm(c, "short"), "web", webSecret) },
			http.StatusBadRequest, codeInvalidGrant, "", true},
		{"wrong redirect_uri", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("redirect_uri", "https://app.example/other")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"missing redirect_uri", func(c, v string) *response {
			f := codeForm(c, v)
			f.Del("redirect_uri")
			return h.tokenCall(f, "web", webSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"code of another client", func(c, v string) *response {
			f := codeForm(c, v)
			f.Set("redirect_uri", legacyRedirect)
			return h.tokenCall(f, "client_1", tutorialSecret)
		}, http.StatusBadRequest, codeInvalidGrant, "", true},
		{"wrong content type", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(`{"grant_type":"authorization_code"}`))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth("web", url.QueryEscape(webSecret))
			return do(t, h.ts.Client(), req)
		}, http.StatusBadRequest, codeInvalidRequest, "", false},
		{"GET", func(c, v string) *response {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+PathToken+"?"+codeForm(c, v).Encode(), nil)
			return do(t, h.ts.Client(), req)
		}, http.StatusMethodNotAllowed, codeInvalidRequest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, verifier := freshCode(t, b, "openid profile")
			r := tt.call(code, verifier)
			wantOAuthError(t, r, tt.status, tt.errCode)
			if r.json(t)["error_description"] == "" {
				t.Error("no error_description")
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.challenge) || (tt.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got, tt.challenge)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("error response: Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			// A refusal before the code is claimed leaves it usable.
			retry := h.tokenCall(codeForm(code, verifier), "web", webSecret)
			if used := retry.status != http.StatusOK; used != tt.codeIsUsed {
				t.Errorf("after the failed call the code is used: %v, want %v (retry status %d)", used, tt.codeIsUsed, retry.status)
			}
		})
	}
}

func TestAuthMethodMustMatchRegistration(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	verifier, challenge := pkce("method")
	params := url.Values{"response_type": {"code"}, "client_id": {"post"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	code := b.signIn(params, "alice", alicePassword).Get("code")
	form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "code_verifier": {verifier}}
	// "post" is registered for client_secret_post; Basic with the right
	// secret is still refused.
	r := h.tokenCall(form, "post", postSecret)
	wantOAuthError(t, r, http.StatusUnauthorized, codeInvalidClient)
	if !strings.Contains(r.json(t)["error_description"].(string), "must authenticate with client_secret_post") {
		t.Errorf("description %q does not name the registered method", r.json(t)["error_description"])
	}
	form.Set("client_id", "post")
	form.Set("client_secret", postSecret)
	if r := h.tokenCall(form, "", ""); r.status != http.StatusOK {
		t.Errorf("with the registered method: status %d body %s", r.status, r.body)
	}
}

func TestPublicClientMustSendVerifier(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	_, challenge := pkce("public")
	code := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"spa"}, "scope": {"openid"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "alice", alicePassword).Get("code")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "client_id": {"spa"}}, "", "")
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidRequest)
}

func TestVerifierWithoutChallengeIsRefused(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	q := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"client_1"}, "scope": {"profile"}}, "id001", "mypassword")
	verifier, _ := pkce("downgrade")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {q.Get("code")}, "code_verifier": {verifier}}, "client_1", tutorialSecret)
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
}

func TestCodeReuseRevokesItsTokens(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	code, verifier := freshCode(t, b, "openid profile")
	tok := h.exchange(code, verifier)
	access, refresh := str(tok["access_token"]), str(tok["refresh_token"])
	if r := h.bearerCall(http.MethodGet, PathUserInfo, access); r.status != http.StatusOK {
		t.Fatalf("access token before the replay: status %d", r.status)
	}

	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web", webSecret)
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)

	wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, access), http.StatusUnauthorized, codeInvalidToken)
	r = h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {refresh}}, "web", webSecret)
	wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)

	// Other grants of the same user are untouched.
	code2, verifier2 := freshCode(t, b, "openid profile")
	other := h.exchange(code2, verifier2)
	if r := h.bearerCall(http.MethodGet, PathUserInfo, str(other["access_token"])); r.status != http.StatusOK {
		t.Errorf("an unrelated access token stopped working: status %d", r.status)
	}
}

func TestCodeExpiry(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	form := func(code, verifier string) url.Values {
		return url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	}
	code, verifier := freshCode(t, b, "openid")
	h.clk.Advance(h.srv.cfg.AuthCodeTTL - time.Second)
	if r := h.tokenCall(form(code, verifier), "web", webSecret); r.status != http.StatusOK {
		t.Errorf("a second before expiry: status %d body %s", r.status, r.body)
	}
	code, verifier = freshCode(t, b, "openid")
	h.clk.Advance(h.srv.cfg.AuthCodeTTL)
	wantOAuthError(t, h.tokenCall(form(code, verifier), "web", webSecret), http.StatusBadRequest, codeInvalidGrant)
}

// revocationCountingStore is a memory store that counts RevokeFamily calls.
type revocationCountingStore struct {
	*memory.Store
	revocations atomic.Int64
}

func (s *revocationCountingStore) RevokeFamily(ctx context.Context, familyID string, until time.Time) error {
	s.revocations.Add(1)
	return s.Store.RevokeFamily(ctx, familyID, until)
}

// TestOnlyAReplayedCodeRevokes checks that a code the store does not know as
// live (never issued, or expired) is refused without any revocation being
// written, so random codes cannot grow the store, while a live code
// presented a second time still revokes its grant.
func TestOnlyAReplayedCodeRevokes(t *testing.T) {
	tests := []struct {
		name string
		// code returns the code to present, and its verifier.
		code     func(t *testing.T, h *harness) (code, verifier string)
		wantDesc string
		wantRevs int64
	}{
		{"never issued", func(t *testing.T, h *harness) (string, string) {
			v, _ := pkce("tok")
			return newSecret(), v
		}, "invalid or expired", 0},
		{"not code-shaped", func(t *testing.T, h *harness) (string, string) { return "x", "" }, "invalid or expired", 0},
		{"expired unused", func(t *testing.T, h *harness) (string, string) {
			code, verifier := freshCode(t, h.browser(), "openid")
			h.clk.Advance(h.srv.cfg.AuthCodeTTL)
			return code, verifier
		}, "invalid or expired", 0},
		{"expired after redemption", func(t *testing.T, h *harness) (string, string) {
			code, verifier := freshCode(t, h.browser(), "openid")
			h.exchange(code, verifier)
			h.clk.Advance(h.srv.cfg.AuthCodeTTL)
			return code, verifier
		}, "invalid or expired", 0},
		{"redeemed, replayed while live", func(t *testing.T, h *harness) (string, string) {
			code, verifier := freshCode(t, h.browser(), "openid")
			h.exchange(code, verifier)
			return code, verifier
		}, "authorization code was used twice", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &revocationCountingStore{Store: memory.New()}
			h := newHarness(t, func(c *Config) { c.Store = store })
			code, verifier := tc.code(t, h)
			form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			r := h.tokenCall(form, "web", webSecret)
			wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
			if !strings.Contains(r.body, tc.wantDesc) {
				t.Errorf("error description %s, want one containing %q", r.body, tc.wantDesc)
			}
			if got := store.revocations.Load(); got != tc.wantRevs {
				t.Errorf("RevokeFamily calls: got %d, want %d", got, tc.wantRevs)
			}
			// Collecting once every revocation has lapsed counts the
			// revocations the store remembered.
			gc, err := store.GarbageCollect(t.Context(), h.clk.Now().Add(h.srv.cfg.RefreshTokenTTL+time.Millisecond))
			if err != nil {
				t.Fatalf("GarbageCollect: %v", err)
			}
			if gc.RevokedFamilies != tc.wantRevs {
				t.Errorf("revocations stored: got %d, want %d", gc.RevokedFamilies, tc.wantRevs)
			}
		})
	}
}

// TestConcurrentRedemptionsLeaveNoLiveTokens redeems one code n times at
// once on each backend. At most one redemption gets tokens, and none of them
// works afterwards: every other redemption was a replay of the code, whose
// revocation must reach the winner's tokens however the requests interleave,
// even when it lands before the winner has stored them.
func TestConcurrentRedemptionsLeaveNoLiveTokens(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) storage.Store
	}{
		{"memory", func(*testing.T) storage.Store { return memory.New() }},
		{"sqlite", func(t *testing.T) storage.Store {
			return openSQLStore(t, sqlstore.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "gatehouse.db")})
		}},
		{"postgres", func(t *testing.T) storage.Store {
			dsn := sqltest.PostgresDSN(t)
			return openSQLStore(t, sqlstore.Config{Driver: "postgres", DSN: dsn, Schema: sqltest.FreshSchema(t, dsn)})
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			h := newHarness(t, func(c *Config) { c.Store = store })
			code, verifier := freshCode(t, h.browser(), "openid profile")
			form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			const n = 8
			results := make([]*response, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					results[i] = postForm(h, form, "web", webSecret)
				})
			}
			close(start)
			wg.Wait()

			var access, refresh []string
			for i, r := range results {
				switch {
				case r.status == http.StatusOK:
					tok := r.json(t)
					access, refresh = append(access, str(tok["access_token"])), append(refresh, str(tok["refresh_token"]))
				case r.status != http.StatusBadRequest || !strings.Contains(r.body, `"invalid_grant"`):
					t.Errorf("redemption %d: status %d body %s, want 200 or 400 invalid_grant", i, r.status, r.body)
				}
			}
			if len(access) > 1 {
				t.Errorf("%d of %d concurrent redemptions got tokens, want at most 1", len(access), n)
			}
			for _, at := range access {
				wantOAuthError(t, h.bearerCall(http.MethodGet, PathUserInfo, at), http.StatusUnauthorized, codeInvalidToken)
			}
			for _, rt := range refresh {
				r := h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {rt}}, "web", webSecret)
				wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
			}
		})
	}
}

// postForm posts a token request like harness.tokenCall, but may run in any
// goroutine: a transport error comes back as status 0 with the error as body.
func postForm(h *harness, form url.Values, id, secret string) *response {
	req, err := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		return &response{body: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		return &response{body: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return &response{body: err.Error()}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// openSQLStore opens a SQL store that t closes.
func openSQLStore(t *testing.T, cfg sqlstore.Config) storage.Store {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open %s store: %v", cfg.Driver, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// replayingStore is a memory store in which a replay of the code or refresh
// token revokes the family just before the request that claimed it stores
// one of its tokens: the moment a revocation without a tombstone would miss.
type replayingStore struct {
	*memory.Store
	mu     sync.Mutex // the server's goroutines use the fields below too
	ttl    time.Duration
	armed  bool   // set by the test before the request to disturb
	before string // "access" or "refresh": which store the replay precedes
	stored []string
}

// replay revokes family if the store is armed for a token of this kind, and
// records id as stored.
func (s *replayingStore) replay(ctx context.Context, kind, family, id string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored = append(s.stored, id)
	if s.armed && s.before == kind {
		s.armed = false
		s.Store.RevokeFamily(ctx, family, now.Add(s.ttl))
	}
}

func (s *replayingStore) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	s.replay(ctx, "access", t.FamilyID, t.ID, t.CreatedAt)
	return s.Store.CreateAccessToken(ctx, t)
}

func (s *replayingStore) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	s.replay(ctx, "refresh", t.FamilyID, t.ID, t.CreatedAt)
	return s.Store.CreateRefreshToken(ctx, t)
}

// RotateRefreshToken records next as stored when the rotation succeeds.
func (s *replayingStore) RotateRefreshToken(ctx context.Context, oldID string, next storage.RefreshToken, now time.Time) (storage.RefreshToken, error) {
	old, err := s.Store.RotateRefreshToken(ctx, oldID, next, now)
	if err == nil {
		s.mu.Lock()
		s.stored = append(s.stored, next.ID)
		s.mu.Unlock()
	}
	return old, err
}

func TestReplayBeforeTokensAreStoredRevokesThem(t *testing.T) {
	tests := []struct {
		name    string
		before  string
		refresh bool // disturb a refresh rather than the code exchange
		want    string
	}{
		{"code, before the access token", "access", false, "authorization code was used twice"},
		{"code, between access and refresh token", "refresh", false, "authorization code was used twice"},
		{"refresh, before the access token", "access", true, "refresh token was used twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &replayingStore{Store: memory.New(), before: tc.before}
			h := newHarness(t, func(c *Config) { c.Store = store })
			store.ttl = h.srv.cfg.RefreshTokenTTL
			code, verifier := freshCode(t, h.browser(), "openid profile")
			form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
			if tc.refresh {
				form = url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {str(h.exchange(code, verifier)["refresh_token"])}}
			}
			store.mu.Lock()
			store.armed, store.stored = true, nil
			store.mu.Unlock()
			r := h.tokenCall(form, "web", webSecret)
			store.mu.Lock()
			defer store.mu.Unlock()
			if store.armed {
				t.Fatal("the request stored no token, so the replay never happened")
			}
			wantOAuthError(t, r, http.StatusBadRequest, codeInvalidGrant)
			if !strings.Contains(r.body, tc.want) || !strings.Contains(r.body, "sign in again") {
				t.Errorf("error description %s, want one saying the %s and to sign in again", r.body, tc.want)
			}
			for _, id := range store.stored {
				_, errA := store.GetAccessToken(t.Context(), id, h.clk.Now())
				_, errR := store.GetRefreshToken(t.Context(), id, h.clk.Now())
				if !errors.Is(errA, storage.ErrNotFound) || !errors.Is(errR, storage.ErrNotFound) {
					t.Errorf("token %s the request stored: got errors %v, %v, want ErrNotFound (revoked)", id, errA, errR)
				}
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
	code := b.signIn(url.Values{"response_type": {"code"}, "client_id": {"spa"}, "scope": {"openid offline_access"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, "alice", alicePassword).Get("code")
	r := h.tokenCall(url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "client_id": {"spa"}, "code_verifier": {verifier}}, "", "")
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

// BenchmarkCodeExchange measures the token endpoint redeeming a code for
// an access token and a signed ID token, over HTTP, with the memory store.
func BenchmarkCodeExchange(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, func(c *Config) { c.SigningAlgorithm = alg })
			verifier, challenge := pkce("bench")
			client := h.ts.Client()
			b.ReportAllocs()
			for b.Loop() {
				code := newSecret()
				err := h.store.CreateAuthCode(context.Background(), storage.AuthCode{
					ID: hashSecret(code), ClientID: "web", RedirectURI: webRedirect, Scopes: []string{"openid", "profile"},
					CodeChallenge: challenge, CodeChallengeMethod: "S256", Subject: "alice",
					AuthTime: h.clk.Now(), ExpiresAt: h.clk.Now().Add(time.Minute),
				})
				if err != nil {
					b.Fatal(err)
				}
				form := url.Values{"grant_type": {grantAuthorizationCode}, "code": {code}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}}
				req, _ := http.NewRequest(http.MethodPost, h.ts.URL+PathToken, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("web", url.QueryEscape(webSecret))
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
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
		_, s.err = s.Store.RotateRefreshToken(ctx, id, next, now)
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

func TestConcurrentRefreshesHaveOneWinner(t *testing.T) {
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
	var winner string
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
			winner = str(m["refresh_token"])
		case r.status != http.StatusBadRequest || !strings.Contains(r.body, `"invalid_grant"`):
			t.Errorf("a losing refresh: status %d body %s, want 400 invalid_grant", r.status, r.body)
		}
	}
	if winner == "" {
		t.Fatalf("none of %d concurrent refreshes succeeded, want one", n)
	}
	// Each loser presented a token already rotated: the family is revoked,
	// the winner's new token with it.
	wantOAuthError(t, h.tokenCall(url.Values{"grant_type": {grantRefreshToken}, "refresh_token": {winner}}, "web", webSecret),
		http.StatusBadRequest, codeInvalidGrant)
}
