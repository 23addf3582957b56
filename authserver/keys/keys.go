// Package keys manages the keys that sign ID tokens: it loads them from the
// store or generates the first one, rotates them on a schedule, signs with
// the current key, verifies with any key still published, and publishes the
// public halves as a JWK Set.
//
// The store is the single source of truth. Every change goes through
// storage.Store.UpdateSigningKeys, a compare-and-swap, so replicas sharing a
// database agree on one signing key and only one of them rotates it. Each
// Manager caches the set and reads the store again when the cache is older
// than the reload interval, when the signing key is due for rotation, or when
// asked to verify a token signed by a key it does not know.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// Supported signing algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// ErrUnknownKey means a token names a key ID that is not published (never
// was, or has been dropped since every token it signed expired).
var ErrUnknownKey = errors.New("keys: unknown signing key")

// unknownKeyReloadGap limits how often verifying tokens with unknown key IDs
// makes the manager read the store, so that forged key IDs cannot turn into
// a flood of store reads.
const unknownKeyReloadGap = time.Second

// rsaBits is the modulus size of generated RS256 keys.
const rsaBits = 2048

// Config is what a Manager needs.
type Config struct {
	Store storage.Store
	// Algorithm is the only JWS alg the manager signs with or accepts: ES256
	// (the default when empty) or RS256.
	Algorithm string
	// RotationPeriod is how long a key signs before a new one takes over.
	RotationPeriod time.Duration
	// MaxTokenLifetime is the longest lifetime of anything signed with these
	// keys. A retired key stays published this long after its retirement, so
	// every token it signed can be verified until it expires.
	MaxTokenLifetime time.Duration
	// ReloadInterval is the longest the manager uses a cached key set before
	// reading the store again; one minute when zero.
	ReloadInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives structured logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Manager signs with the current key and publishes the verification keys.
// It is safe for concurrent use.
type Manager struct {
	store          storage.Store
	alg            jose.SignatureAlgorithm
	rotationPeriod time.Duration
	maxLifetime    time.Duration
	reloadInterval time.Duration
	now            func() time.Time
	log            *slog.Logger

	mu  sync.Mutex // guards set and serialises store reads
	set *keySet
}

// Token types (the JOSE "typ" header) the manager signs. Each names one
// kind of token, so a token of one kind cannot be passed off as another
// (RFC 8725 §3.11).
const (
	TypeIDToken     = "JWT"        // ID tokens (OpenID Connect Core §2)
	TypeAccessToken = "at+jwt"     // JWT access tokens (RFC 9068 §2.1)
	TypeLogoutToken = "logout+jwt" // logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4)
)

var tokenTypes = []string{TypeIDToken, TypeAccessToken, TypeLogoutToken}

// keySet is one parsed snapshot of the stored keys of the manager's
// algorithm that are still published.
type keySet struct {
	loadedAt time.Time
	active   *key
	signers  map[string]jose.Signer // by token type, ready to sign
	keys     []*key                 // newest first, active included
}

type key struct {
	jwk          jose.JSONWebKey // private
	createdAt    time.Time
	retiredAt    time.Time
	publishUntil time.Time
}

// New returns a Manager, generating and storing the first key if the store
// has no usable one. Replicas calling New at once end up with one key.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("keys: no store given")
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = ES256
	}
	if cfg.Algorithm != ES256 && cfg.Algorithm != RS256 {
		return nil, fmt.Errorf("keys: signing algorithm %q is not supported; use %s or %s", cfg.Algorithm, ES256, RS256)
	}
	if cfg.RotationPeriod <= 0 {
		return nil, fmt.Errorf("keys: rotation period must be positive, got %v", cfg.RotationPeriod)
	}
	if cfg.MaxTokenLifetime <= 0 {
		return nil, fmt.Errorf("keys: maximum token lifetime must be positive, got %v", cfg.MaxTokenLifetime)
	}
	if cfg.ReloadInterval < 0 {
		return nil, fmt.Errorf("keys: reload interval must not be negative, got %v", cfg.ReloadInterval)
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Manager{
		store:          cfg.Store,
		alg:            jose.SignatureAlgorithm(cfg.Algorithm),
		rotationPeriod: cfg.RotationPeriod,
		maxLifetime:    cfg.MaxTokenLifetime,
		reloadInterval: cfg.ReloadInterval,
		now:            cfg.Now,
		log:            cfg.Logger,
	}
	if _, err := m.load(ctx, 0); err != nil {
		return nil, err
	}
	return m, nil
}

// Algorithm returns the JWS alg the manager signs with and accepts.
func (m *Manager) Algorithm() string { return string(m.alg) }

// Sign signs payload with the current key of algorithm alg (the
// configured one when empty) and returns the JWS in compact serialisation,
// with the key's ID in the "kid" header and typ, one of the Type constants,
// in the "typ" header.
func (m *Manager) Sign(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	if alg != "" && alg != string(m.alg) {
		return "", fmt.Errorf("keys: no %s signing key; the server signs with %s", alg, m.alg)
	}
	set, err := m.load(ctx, m.reloadInterval)
	if err != nil {
		return "", err
	}
	signer, ok := set.signers[typ]
	if !ok {
		return "", fmt.Errorf("keys: token type %q is not one the server signs", typ)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// Verify checks a compact JWS of token type typ signed by one of the
// published keys and returns its payload. Any other alg is refused before a
// key is even looked up, and so is a token of another type.
func (m *Manager) Verify(ctx context.Context, token, typ string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{m.alg})
	if err != nil {
		return nil, fmt.Errorf("keys: parsing token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("keys: token must carry exactly one signature")
	}
	if got, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); !sameType(got, typ) {
		return nil, fmt.Errorf("keys: token type %q, want %q", got, typ)
	}
	kid := jws.Signatures[0].Header.KeyID
	set, err := m.load(ctx, m.reloadInterval)
	if err != nil {
		return nil, err
	}
	k := set.find(kid, m.now())
	if k == nil {
		// Another replica may have rotated since the cache was filled.
		if set, err = m.load(ctx, unknownKeyReloadGap); err != nil {
			return nil, err
		}
		if k = set.find(kid, m.now()); k == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
		}
	}
	payload, err := jws.Verify(k.jwk.Public())
	if err != nil {
		return nil, fmt.Errorf("keys: verifying token signed by %q: %w", kid, err)
	}
	return payload, nil
}

// PublicKeys returns the public half of every key whose signatures may still
// be verified: the current key and retired keys until their PublishUntil.
func (m *Manager) PublicKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	set, err := m.load(ctx, m.reloadInterval)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(set.keys))}
	for _, k := range set.keys {
		if k.published(now) {
			out.Keys = append(out.Keys, k.jwk.Public())
		}
	}
	return out, nil
}

// Refresh reads the store now and rotates the signing key if it is due. The
// server's maintenance loop calls it so that rotation happens on schedule
// even when nothing is being signed.
func (m *Manager) Refresh(ctx context.Context) error {
	_, err := m.load(ctx, 0)
	return err
}

// load returns the cached key set if it is younger than maxAge and its
// signing key is not due for rotation; otherwise it reads the store,
// rotating through a compare-and-swap when needed.
func (m *Manager) load(ctx context.Context, maxAge time.Duration) (*keySet, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if s := m.set; s != nil && now.Sub(s.loadedAt) < maxAge && !m.due(s.active.createdAt, now) {
		return s, nil
	}
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: reading signing keys: %w", err)
	}
	if m.needsRotation(stored, now) {
		if stored, err = m.rotate(ctx, now); err != nil {
			return nil, err
		}
	}
	set, err := m.parse(stored, now)
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

// needsRotation reports whether the stored set lacks a signing key of the
// configured algorithm that is not yet due.
func (m *Manager) needsRotation(stored []storage.SigningKey, now time.Time) bool {
	for _, k := range stored {
		if k.RetiredAt.IsZero() {
			return k.Algorithm != string(m.alg) || m.due(k.CreatedAt, now)
		}
	}
	return true
}

// errUnchanged aborts UpdateSigningKeys when another replica has already
// done the rotation, so nothing is written.
var errUnchanged = errors.New("keys: key set unchanged")

// rotate generates a new signing key, retires the current one and drops
// keys past their publication, all in one compare-and-swap. It returns the
// stored set as it is afterwards.
func (m *Manager) rotate(ctx context.Context, now time.Time) ([]storage.SigningKey, error) {
	var (
		result  []storage.SigningKey
		fresh   *storage.SigningKey
		retired []string
	)
	err := m.store.UpdateSigningKeys(ctx, func(current []storage.SigningKey) ([]storage.SigningKey, error) {
		if !m.needsRotation(current, now) {
			result = current
			return nil, errUnchanged
		}
		if fresh == nil {
			k, err := m.generate(now)
			if err != nil {
				return nil, err
			}
			fresh = &k
		}
		next := []storage.SigningKey{*fresh}
		retired = retired[:0]
		for _, k := range current {
			if k.RetiredAt.IsZero() {
				k.RetiredAt = now
				k.PublishUntil = now.Add(m.maxLifetime)
				retired = append(retired, k.ID)
			}
			if k.PublishUntil.After(now) {
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
		return nil, fmt.Errorf("keys: rotating signing key: %w", err)
	}
	if len(retired) == 0 {
		m.log.Info("signing key generated", "kid", fresh.ID, "alg", fresh.Algorithm)
	} else {
		m.log.Info("signing key rotated", "kid", fresh.ID, "alg", fresh.Algorithm, "retired_kids", retired)
	}
	return result, nil
}

// generate makes a new key pair whose ID is its RFC 7638 thumbprint.
func (m *Manager) generate(now time.Time) (storage.SigningKey, error) {
	var (
		priv any
		err  error
	)
	switch m.alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: generating %s key: %w", m.alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: string(m.alg), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encoding key: %w", err)
	}
	return storage.SigningKey{ID: jwk.KeyID, Algorithm: string(m.alg), PrivateJWK: raw, CreatedAt: now}, nil
}

// parse turns the stored keys of the configured algorithm that are still
// published into a key set. Keys of another algorithm are ignored: they are
// never used to sign, verify or publish.
func (m *Manager) parse(stored []storage.SigningKey, now time.Time) (*keySet, error) {
	set := &keySet{loadedAt: now}
	for _, sk := range stored {
		if sk.Algorithm != string(m.alg) {
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
		if set.active == nil && sk.RetiredAt.IsZero() {
			set.signers = make(map[string]jose.Signer, len(tokenTypes))
			for _, typ := range tokenTypes {
				signer, err := jose.NewSigner(jose.SigningKey{Algorithm: m.alg, Key: k.jwk}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
				if err != nil {
					return nil, fmt.Errorf("keys: signer for key %q: %w", sk.ID, err)
				}
				set.signers[typ] = signer
			}
			set.active = k
		}
		set.keys = append(set.keys, k)
	}
	if set.active == nil {
		return nil, fmt.Errorf("keys: the store holds no current %s signing key", m.alg)
	}
	return set, nil
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

// sameType compares JOSE "typ" values the way RFC 7515 §4.1.9 asks:
// case-insensitively, with an omitted "application/" prefix.
func sameType(got, want string) bool {
	got = strings.TrimPrefix(strings.ToLower(got), "application/")
	return got == strings.ToLower(want)
}
