package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

var _ storage.Store = (*Store)(nil)

// Store is an in-memory storage.Store. Values are copied on the way in and
// out, so callers never share slices with the store. Times are kept in UTC at
// millisecond precision, exactly as the SQL backends keep them, so that all
// backends agree on when a row expires.
type Store struct {
	mu       sync.Mutex
	closed   bool
	codes    map[string]storedCode
	refresh  map[string]storage.RefreshToken
	access   map[string]storage.AccessToken
	consents map[consentKey]storage.Consent
	// revoked maps a revoked family to the time until which it is
	// remembered. Holding mu across check and insert is what makes creates
	// atomic with respect to RevokeFamily.
	revoked map[string]time.Time
	// claims maps ClaimOnce keys to the time their record expires.
	claims map[string]time.Time

	// keysMu is separate from mu so that a slow update (generating an RSA
	// key) does not stall code and token traffic.
	keysMu sync.Mutex
	keys   []storage.SigningKey
}

type consentKey struct{ subject, clientID string }

// storedCode is an authorization code and whether it has been claimed.
type storedCode struct {
	storage.AuthCode
	used bool
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		codes:    make(map[string]storedCode),
		refresh:  make(map[string]storage.RefreshToken),
		access:   make(map[string]storage.AccessToken),
		consents: make(map[consentKey]storage.Consent),
		revoked:  make(map[string]time.Time),
		claims:   make(map[string]time.Time),
	}
}

// ms normalises t the way the SQL backends store it.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// live reports whether a row expiring at expiresAt is still valid at now.
func live(expiresAt, now time.Time) bool {
	return ms(expiresAt).After(ms(now))
}

func copyCode(c storage.AuthCode) storage.AuthCode {
	c.Scopes = slices.Clone(c.Scopes)
	c.AuthTime, c.ExpiresAt = ms(c.AuthTime), ms(c.ExpiresAt)
	return c
}

func copyRefresh(t storage.RefreshToken) storage.RefreshToken {
	t.Scopes, t.Retry = slices.Clone(t.Scopes), slices.Clone(t.Retry)
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.UsedAt = ms(t.AuthTime), ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.UsedAt)
	return t
}

func copyAccess(t storage.AccessToken) storage.AccessToken {
	t.Scopes = slices.Clone(t.Scopes)
	t.AuthTime, t.CreatedAt, t.ExpiresAt = ms(t.AuthTime), ms(t.CreatedAt), ms(t.ExpiresAt)
	return t
}

func copyConsent(c storage.Consent) storage.Consent {
	c.Scopes = slices.Clone(c.Scopes)
	c.GrantedAt, c.ExpiresAt = ms(c.GrantedAt), ms(c.ExpiresAt)
	return c
}

func copyKey(k storage.SigningKey) storage.SigningKey {
	k.PrivateJWK = slices.Clone(k.PrivateJWK)
	k.CreatedAt, k.RetiredAt, k.PublishUntil = ms(k.CreatedAt), ms(k.RetiredAt), ms(k.PublishUntil)
	return k
}

// CreateAuthCode implements storage.Store.
func (s *Store) CreateAuthCode(_ context.Context, c storage.AuthCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[c.ID]; ok {
		return storage.ErrAlreadyExists
	}
	s.codes[c.ID] = storedCode{AuthCode: copyCode(c)}
	return nil
}

// ClaimAuthCode implements storage.Store.
func (s *Store) ClaimAuthCode(_ context.Context, id string, now time.Time) (storage.AuthCode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[id]
	if !ok || !live(c.ExpiresAt, now) {
		return storage.AuthCode{}, storage.ErrNotFound
	}
	if c.used {
		return copyCode(c.AuthCode), storage.ErrCodeReused
	}
	c.used = true
	s.codes[id] = c
	return copyCode(c.AuthCode), nil
}

// isRevoked reports whether a token of family created at createdAt is
// refused because the family's revocation is remembered; mu must be held.
func (s *Store) isRevoked(family string, createdAt time.Time) bool {
	until, ok := s.revoked[family]
	return ok && until.After(ms(createdAt))
}

// CreateRefreshToken implements storage.Store.
func (s *Store) CreateRefreshToken(_ context.Context, t storage.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isRevoked(t.FamilyID, t.CreatedAt) {
		return storage.ErrRevoked
	}
	if _, ok := s.refresh[t.ID]; ok {
		return storage.ErrAlreadyExists
	}
	s.refresh[t.ID] = copyRefresh(t)
	return nil
}

// GetRefreshToken implements storage.Store.
func (s *Store) GetRefreshToken(_ context.Context, id string, now time.Time) (storage.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[id]
	if !ok || !live(t.ExpiresAt, now) {
		return storage.RefreshToken{}, storage.ErrNotFound
	}
	return copyRefresh(t), nil
}

// RotateRefreshToken implements storage.Store.
func (s *Store) RotateRefreshToken(_ context.Context, oldID string, next storage.RefreshToken, retry []byte, now time.Time) (storage.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[oldID]
	if !ok || !live(old.ExpiresAt, now) {
		return storage.RefreshToken{}, storage.ErrNotFound
	}
	if !old.UsedAt.IsZero() {
		return copyRefresh(old), storage.ErrTokenReused
	}
	if s.isRevoked(next.FamilyID, next.CreatedAt) {
		return storage.RefreshToken{}, storage.ErrRevoked
	}
	if _, ok := s.refresh[next.ID]; ok {
		return storage.RefreshToken{}, storage.ErrAlreadyExists
	}
	old.UsedAt, old.Retry = ms(now), slices.Clone(retry)
	s.refresh[oldID] = old
	s.refresh[next.ID] = copyRefresh(next)
	return copyRefresh(old), nil
}

// RevokeFamily implements storage.Store.
func (s *Store) RevokeFamily(_ context.Context, familyID string, until time.Time) error {
	if familyID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.revoked[familyID]; !ok || ms(until).After(prev) {
		s.revoked[familyID] = ms(until)
	}
	for id, t := range s.refresh {
		if t.FamilyID == familyID {
			delete(s.refresh, id)
		}
	}
	for id, t := range s.access {
		if t.FamilyID == familyID {
			delete(s.access, id)
		}
	}
	return nil
}

// FamilyRevoked implements storage.Store.
func (s *Store) FamilyRevoked(_ context.Context, familyID string, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.revoked[familyID]
	return ok && live(until, now), nil
}

// CreateAccessToken implements storage.Store.
func (s *Store) CreateAccessToken(_ context.Context, t storage.AccessToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isRevoked(t.FamilyID, t.CreatedAt) {
		return storage.ErrRevoked
	}
	if _, ok := s.access[t.ID]; ok {
		return storage.ErrAlreadyExists
	}
	s.access[t.ID] = copyAccess(t)
	return nil
}

// GetAccessToken implements storage.Store.
func (s *Store) GetAccessToken(_ context.Context, id string, now time.Time) (storage.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[id]
	if !ok || !live(t.ExpiresAt, now) {
		return storage.AccessToken{}, storage.ErrNotFound
	}
	return copyAccess(t), nil
}

// DeleteAccessToken implements storage.Store.
func (s *Store) DeleteAccessToken(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.access, id)
	return nil
}

// ClaimOnce implements storage.Store.
func (s *Store) ClaimOnce(_ context.Context, key string, until, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.claims[key]; ok && live(prev, now) {
		return storage.ErrAlreadyExists
	}
	s.claims[key] = ms(until)
	return nil
}

// PutConsent implements storage.Store.
func (s *Store) PutConsent(_ context.Context, c storage.Consent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consents[consentKey{c.Subject, c.ClientID}] = copyConsent(c)
	return nil
}

// GetConsent implements storage.Store.
func (s *Store) GetConsent(_ context.Context, subject, clientID string, now time.Time) (storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[consentKey{subject, clientID}]
	if !ok || !live(c.ExpiresAt, now) {
		return storage.Consent{}, storage.ErrNotFound
	}
	return copyConsent(c), nil
}

// SigningKeys implements storage.Store.
func (s *Store) SigningKeys(_ context.Context) ([]storage.SigningKey, error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	return s.copyKeys(), nil
}

// copyKeys returns the stored keys newest first; keysMu must be held.
func (s *Store) copyKeys() []storage.SigningKey {
	keys := make([]storage.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, copyKey(k))
	}
	// Newest first, ties by ID, the order the SQL backends return.
	slices.SortFunc(keys, func(a, b storage.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return keys
}

// UpdateSigningKeys implements storage.Store. Holding keysMu across update
// is what serialises concurrent updates.
func (s *Store) UpdateSigningKeys(_ context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	next, err := update(s.copyKeys())
	if err != nil {
		return err
	}
	keys := make([]storage.SigningKey, 0, len(next))
	seen := make(map[string]bool, len(next))
	for _, k := range next {
		if seen[k.ID] {
			return fmt.Errorf("memory: signing key %q appears twice in the updated set: %w", k.ID, storage.ErrAlreadyExists)
		}
		seen[k.ID] = true
		keys = append(keys, copyKey(k))
	}
	s.keys = keys
	return nil
}

// GarbageCollect implements storage.Store.
func (s *Store) GarbageCollect(_ context.Context, now time.Time) (storage.GCResult, error) {
	var r storage.GCResult
	s.mu.Lock()
	r.AuthCodes = deleteDead(s.codes, now, func(c storedCode) time.Time { return c.ExpiresAt })
	r.RefreshTokens = deleteDead(s.refresh, now, func(t storage.RefreshToken) time.Time { return t.ExpiresAt })
	r.AccessTokens = deleteDead(s.access, now, func(t storage.AccessToken) time.Time { return t.ExpiresAt })
	r.Consents = deleteDead(s.consents, now, func(c storage.Consent) time.Time { return c.ExpiresAt })
	r.RevokedFamilies = deleteDead(s.revoked, now, func(until time.Time) time.Time { return until })
	r.Claims = deleteDead(s.claims, now, func(until time.Time) time.Time { return until })
	s.mu.Unlock()

	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	kept := s.keys[:0]
	for _, k := range s.keys {
		// A retired key goes once no token signed with it can still be
		// valid; the key that signs now (RetiredAt zero) always stays.
		if !k.RetiredAt.IsZero() && !live(k.PublishUntil, now) {
			r.SigningKeys++
			continue
		}
		kept = append(kept, k)
	}
	clear(s.keys[len(kept):])
	s.keys = kept
	return r, nil
}

// deleteDead removes the entries of m that expired at or before now and
// returns how many it removed.
func deleteDead[K comparable, V any](m map[K]V, now time.Time, expiresAt func(V) time.Time) int64 {
	var n int64
	for k, v := range m {
		if !live(expiresAt(v), now) {
			delete(m, k)
			n++
		}
	}
	return n
}

// Close marks the store closed, for Ping; its data stays readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Ping fails only once the store is closed: it is in the process.
func (s *Store) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("memory store: closed")
	}
	return nil
}
