package authserver

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// serverName names the authserver in log lines and metrics.
const serverName = "authserver"

// Sign-in outcomes counted by gatehouse_sign_ins_total.
const (
	signInSuccess   = "success"
	signInIncorrect = "incorrect" // unknown user or wrong password: one outcome, as on the page
	signInThrottled = "throttled"
	signInLocked    = "locked"
	signInError     = "error"
)

// metrics are the authserver's own families; a nil *metrics counts
// nothing.
type metrics struct {
	http    *httpx.Metrics
	signIns *prometheus.CounterVec
	tokens  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	return &metrics{
		http:    httpx.NewMetrics(reg, serverName),
		signIns: httpx.SignIns(reg, serverName),
		tokens: httpx.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total",
			Help: "Successful token endpoint responses, by grant type.",
		}, []string{"grant_type"})),
	}
}

func (m *metrics) httpMetrics() *httpx.Metrics {
	if m == nil {
		return nil
	}
	return m.http
}

func (m *metrics) signIn(outcome string) {
	if m != nil {
		m.signIns.WithLabelValues(outcome).Inc()
	}
}

func (m *metrics) tokensIssued(grantType string) {
	if m != nil {
		m.tokens.WithLabelValues(grantType).Inc()
	}
}

// countingStore counts the store's failures by operation. The answers
// the contract defines (not found, reuse, revoked) are results, not
// failures, and are not counted.
type countingStore struct {
	storage.Store
	errs *prometheus.CounterVec
}

func (s countingStore) count(op string, err error) error {
	if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrAlreadyExists) &&
		!errors.Is(err, storage.ErrCodeReused) && !errors.Is(err, storage.ErrTokenReused) &&
		!errors.Is(err, storage.ErrRevoked) && !errors.Is(err, context.Canceled) {
		s.errs.WithLabelValues(op).Inc()
	}
	return err
}

func (s countingStore) CreateAuthCode(ctx context.Context, c storage.AuthCode) error {
	return s.count("create_auth_code", s.Store.CreateAuthCode(ctx, c))
}

func (s countingStore) ClaimAuthCode(ctx context.Context, id string, now time.Time) (storage.AuthCode, error) {
	c, err := s.Store.ClaimAuthCode(ctx, id, now)
	return c, s.count("claim_auth_code", err)
}

func (s countingStore) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	return s.count("create_refresh_token", s.Store.CreateRefreshToken(ctx, t))
}

func (s countingStore) GetRefreshToken(ctx context.Context, id string, now time.Time) (storage.RefreshToken, error) {
	t, err := s.Store.GetRefreshToken(ctx, id, now)
	return t, s.count("get_refresh_token", err)
}

func (s countingStore) RotateRefreshToken(ctx context.Context, oldID string, next storage.RefreshToken, retry []byte, now time.Time) (storage.RefreshToken, error) {
	t, err := s.Store.RotateRefreshToken(ctx, oldID, next, retry, now)
	return t, s.count("rotate_refresh_token", err)
}

func (s countingStore) RevokeFamily(ctx context.Context, familyID string, until time.Time) error {
	return s.count("revoke_family", s.Store.RevokeFamily(ctx, familyID, until))
}

func (s countingStore) FamilyRevoked(ctx context.Context, familyID string, now time.Time) (bool, error) {
	ok, err := s.Store.FamilyRevoked(ctx, familyID, now)
	return ok, s.count("family_revoked", err)
}

func (s countingStore) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	return s.count("create_access_token", s.Store.CreateAccessToken(ctx, t))
}

func (s countingStore) GetAccessToken(ctx context.Context, id string, now time.Time) (storage.AccessToken, error) {
	t, err := s.Store.GetAccessToken(ctx, id, now)
	return t, s.count("get_access_token", err)
}

func (s countingStore) DeleteAccessToken(ctx context.Context, id string) error {
	return s.count("delete_access_token", s.Store.DeleteAccessToken(ctx, id))
}

func (s countingStore) ClaimOnce(ctx context.Context, key string, until, now time.Time) error {
	return s.count("claim_once", s.Store.ClaimOnce(ctx, key, until, now))
}

func (s countingStore) PutConsent(ctx context.Context, c storage.Consent) error {
	return s.count("put_consent", s.Store.PutConsent(ctx, c))
}

func (s countingStore) GetConsent(ctx context.Context, subject, clientID string, now time.Time) (storage.Consent, error) {
	c, err := s.Store.GetConsent(ctx, subject, clientID, now)
	return c, s.count("get_consent", err)
}

func (s countingStore) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	k, err := s.Store.SigningKeys(ctx)
	return k, s.count("signing_keys", err)
}

func (s countingStore) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	var refused error // update's own error is the caller's, not the store's
	err := s.Store.UpdateSigningKeys(ctx, func(current []storage.SigningKey) ([]storage.SigningKey, error) {
		next, err := update(current)
		refused = err
		return next, err
	})
	if err != nil && err == refused {
		return err
	}
	return s.count("update_signing_keys", err)
}

func (s countingStore) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	r, err := s.Store.GarbageCollect(ctx, now)
	return r, s.count("garbage_collect", err)
}

func (s countingStore) Ping(ctx context.Context) error {
	return s.count("ping", s.Store.Ping(ctx))
}

// outcome is the sign-in outcome of a refused attempt.
func (t *throttled) outcome() string {
	if t.locked {
		return signInLocked
	}
	return signInThrottled
}
