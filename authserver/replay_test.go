package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
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
func (s *replayingStore) RotateRefreshToken(ctx context.Context, oldID string, next storage.RefreshToken, retry []byte, now time.Time) (storage.RefreshToken, error) {
	old, err := s.Store.RotateRefreshToken(ctx, oldID, next, retry, now)
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
