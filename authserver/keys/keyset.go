package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// keySet is one parsed snapshot of the stored keys that are still
// published, of every supported algorithm.
type keySet struct {
	loadedAt time.Time
	current  map[string]*key          // by alg: the key that signs now
	signers  map[signerID]jose.Signer // one per current key and token type, ready to sign
	keys     []*key                   // newest first, current ones included
}

// signerID names one ready signer: the current key of alg, setting typ.
type signerID struct{ alg, typ string }

type key struct {
	jwk          jose.JSONWebKey // private
	createdAt    time.Time
	retiredAt    time.Time
	publishUntil time.Time
}

// parse turns the stored keys of the supported algorithms that are still
// published into a key set, building the signers of each algorithm's
// current key (the newest not retired). Keys of other algorithms are
// ignored: they are never used to sign, verify or publish.
func parse(stored []storage.SigningKey, now time.Time) (*keySet, error) {
	// Newest first, ties by ID, whatever order stored came in (from the
	// store or from a rotation), so that every replica publishes the same
	// JWKS.
	stored = slices.SortedFunc(slices.Values(stored), func(a, b storage.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	set := &keySet{
		loadedAt: now,
		current:  make(map[string]*key, len(supported)),
		signers:  make(map[signerID]jose.Signer, len(supported)*len(tokenTypes)),
	}
	for _, sk := range stored {
		if !slices.Contains(supported, sk.Algorithm) {
			continue
		}
		k := &key{createdAt: sk.CreatedAt, retiredAt: sk.RetiredAt, publishUntil: sk.PublishUntil}
		if !k.published(now) {
			continue
		}
		if err := json.Unmarshal(sk.PrivateJWK, &k.jwk); err != nil {
			return nil, fmt.Errorf("keys: stored key %q: %w", sk.ID, err)
		}
		if k.jwk.IsPublic() || !k.jwk.Valid() || k.jwk.KeyID != sk.ID || k.jwk.Algorithm != sk.Algorithm {
			return nil, fmt.Errorf("keys: stored key %q is not a valid private %s key with that ID", sk.ID, sk.Algorithm)
		}
		if set.current[sk.Algorithm] == nil && sk.RetiredAt.IsZero() {
			if err := set.addSigners(sk.Algorithm, k); err != nil {
				return nil, err
			}
			set.current[sk.Algorithm] = k
		}
		set.keys = append(set.keys, k)
	}
	for _, alg := range supported {
		if set.current[alg] == nil {
			return nil, fmt.Errorf("keys: the store holds no current %s signing key", alg)
		}
	}
	return set, nil
}

// addSigners builds k's signer for every token type, so that signing later
// needs no setup.
func (s *keySet) addSigners(alg string, k *key) error {
	for _, typ := range tokenTypes {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.jwk},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			return fmt.Errorf("keys: signer for key %q: %w", k.jwk.KeyID, err)
		}
		s.signers[signerID{alg, typ}] = signer
	}
	return nil
}

// find returns the published key with this ID, or nil.
func (s *keySet) find(kid string, now time.Time) *key {
	for _, k := range s.keys {
		if k.jwk.KeyID == kid && k.published(now) {
			return k
		}
	}
	return nil
}

// published reports whether the key may still verify tokens at now.
func (k *key) published(now time.Time) bool {
	return k.retiredAt.IsZero() || k.publishUntil.After(now)
}
