package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// rsaBits is the modulus size of generated RS256 keys.
const rsaBits = 2048

// load returns the cached key set if it is younger than maxAge and none of
// its current keys is due for rotation; otherwise it reads the store,
// rotating through a compare-and-swap when needed.
func (m *Manager) load(ctx context.Context, maxAge time.Duration) (*keySet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if s := m.set; s != nil && now.Sub(s.loadedAt) < maxAge && !m.anyDue(s, now) {
		return s, nil
	}
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: reading signing keys: %w", err)
	}
	if len(m.dueAlgs(stored, now)) > 0 {
		if stored, err = m.rotate(ctx, now); err != nil {
			return nil, err
		}
	}
	set, err := parse(stored, now)
	if err != nil {
		return nil, err
	}
	m.set = set
	return set, nil
}

// due reports whether a key created at createdAt should no longer sign.
func (m *Manager) due(createdAt, now time.Time) bool {
	return !now.Before(createdAt.Add(m.rotationPeriod))
}

// anyDue reports whether one of the set's current keys should no longer sign.
func (m *Manager) anyDue(s *keySet, now time.Time) bool {
	for _, k := range s.current {
		if m.due(k.createdAt, now) {
			return true
		}
	}
	return false
}

// dueAlgs lists the supported algorithms that lack a current key in the
// stored set, or whose current key is due. Stores written before RS256 and
// ES256 were kept side by side hold one algorithm's keys only; the other
// shows up here and gets its first key.
func (m *Manager) dueAlgs(stored []storage.SigningKey, now time.Time) []string {
	var out []string
	for _, alg := range supported {
		i := slices.IndexFunc(stored, func(k storage.SigningKey) bool { return k.Algorithm == alg && k.RetiredAt.IsZero() })
		if i < 0 || m.due(stored[i].CreatedAt, now) {
			out = append(out, alg)
		}
	}
	return out
}

// errUnchanged aborts UpdateSigningKeys when another replica has already
// done the rotation, so nothing is written.
var errUnchanged = errors.New("keys: key set unchanged")

// rotate, in one compare-and-swap, generates a new key for each algorithm
// that needs one, retires that algorithm's current key, and drops keys past
// their publication. Keys of algorithms that are not due stay as they are.
// It returns the stored set as it is afterwards.
func (m *Manager) rotate(ctx context.Context, now time.Time) ([]storage.SigningKey, error) {
	var (
		result  []storage.SigningKey
		fresh   = map[string]storage.SigningKey{} // by alg, kept across retries
		made    []string
		retired map[string][]string // by alg
	)
	err := m.store.UpdateSigningKeys(ctx, func(current []storage.SigningKey) ([]storage.SigningKey, error) {
		made = m.dueAlgs(current, now)
		if len(made) == 0 {
			result = current
			return nil, errUnchanged
		}
		var next []storage.SigningKey
		for _, alg := range made {
			k, ok := fresh[alg]
			if !ok {
				var err error
				if k, err = generate(alg, now); err != nil {
					return nil, err
				}
				fresh[alg] = k
			}
			next = append(next, k)
		}
		retired = map[string][]string{}
		for _, k := range current {
			if k.RetiredAt.IsZero() && slices.Contains(made, k.Algorithm) {
				k.RetiredAt = now
				k.PublishUntil = now.Add(m.maxLifetime)
				retired[k.Algorithm] = append(retired[k.Algorithm], k.ID)
			}
			if k.RetiredAt.IsZero() || k.PublishUntil.After(now) {
				next = append(next, k)
			}
		}
		result = next
		return next, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return result, nil
	case err != nil:
		return nil, fmt.Errorf("keys: rotating signing keys: %w", err)
	}
	for _, alg := range made {
		if old := retired[alg]; len(old) > 0 {
			m.log.Info("signing key rotated", "kid", fresh[alg].ID, "alg", alg, "retired_kids", old)
		} else {
			m.log.Info("signing key generated", "kid", fresh[alg].ID, "alg", alg)
		}
	}
	return result, nil
}

// generate makes a new key pair for alg, one of supported, whose ID is its
// RFC 7638 thumbprint.
func generate(alg string, now time.Time) (storage.SigningKey, error) {
	var (
		priv any
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: generating %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encoding key: %w", err)
	}
	return storage.SigningKey{ID: jwk.KeyID, Algorithm: alg, PrivateJWK: raw, CreatedAt: now}, nil
}
