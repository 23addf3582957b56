// Package keys manages the keys that sign tokens: it keeps one current key
// for each supported algorithm (ES256 and RS256), loading them from the store
// or generating them, rotates each on its own schedule, signs with the
// current key of the algorithm asked for, verifies with any key still
// published, and publishes the public halves as a JWK Set.
//
// The store is the single source of truth. Every change goes through
// storage.Store.UpdateSigningKeys, a compare-and-swap, so replicas sharing a
// database agree on one current key per algorithm and only one of them
// rotates it. Each Manager caches the set and reads the store again when the
// cache is older than the reload interval, when a current key is due for
// rotation, or when asked to verify a token signed by a key it does not know.
package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// supported lists every algorithm the manager keeps a key of. RS256 is there
// because OpenID Connect Discovery §3 requires it; ES256 is the faster one.
var supported = []string{ES256, RS256}

// joseAlgs is supported as go-jose wants it for parsing, so that every other
// alg is refused before a key is looked up.
var joseAlgs = []jose.SignatureAlgorithm{ES256, RS256}

// Supported returns the JWS algs a Manager signs with and accepts.
func Supported() []string { return slices.Clone(supported) }

// ErrUnknownKey means a token names a key ID that is not published (never
// was, or has been dropped since every token it signed expired).
var ErrUnknownKey = errors.New("keys: unknown signing key")

// unknownKeyReloadGap limits how often verifying tokens with unknown key IDs
// makes the manager read the store, so that forged key IDs cannot turn into
// a flood of store reads.
const unknownKeyReloadGap = time.Second

// Config is what a Manager needs.
type Config struct {
	Store storage.Store
	// Algorithm is the JWS alg Sign uses when the caller names none: ES256
	// (the default when empty) or RS256. Keys of both are kept either way.
	Algorithm string
	// RotationPeriod is how long a key signs before a new one of its
	// algorithm takes over.
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

// Manager signs with the current keys and publishes the verification keys.
// It is safe for concurrent use.
type Manager struct {
	store          storage.Store
	defaultAlg     string
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

// New returns a Manager, generating and storing a key of each supported
// algorithm the store lacks a current one of. Replicas calling New at once
// end up with one current key per algorithm.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("keys: no store given")
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = ES256
	}
	if !slices.Contains(supported, cfg.Algorithm) {
		return nil, fmt.Errorf("keys: signing algorithm %q is not supported; use %s", cfg.Algorithm, strings.Join(supported, " or "))
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
		defaultAlg:     cfg.Algorithm,
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

// Algorithm returns the default JWS alg: the one Sign uses when given none.
func (m *Manager) Algorithm() string { return m.defaultAlg }

// Algorithms returns every JWS alg the manager signs with and accepts, the
// default first, as discovery advertises them.
func (m *Manager) Algorithms() []string {
	out := []string{m.defaultAlg}
	for _, alg := range supported {
		if alg != m.defaultAlg {
			out = append(out, alg)
		}
	}
	return out
}

// Sign signs payload with the current key of algorithm alg (the default
// when empty) and returns the JWS in compact serialisation, with the key's
// ID in the "kid" header and typ, one of the Type constants, in the "typ"
// header.
func (m *Manager) Sign(ctx context.Context, alg, typ string, payload []byte) (string, error) {
	if alg == "" {
		alg = m.defaultAlg
	}
	if !slices.Contains(supported, alg) {
		return "", fmt.Errorf("keys: no %s signing key; the server signs with %s", alg, strings.Join(supported, " or "))
	}
	set, err := m.load(ctx, m.reloadInterval)
	if err != nil {
		return "", err
	}
	signer, ok := set.signers[signerID{alg, typ}]
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
// published keys and returns its payload. An alg other than the supported
// ones is refused before a key is even looked up, and so is a token of
// another type; the key named must be one of the alg in the header.
func (m *Manager) Verify(ctx context.Context, token, typ string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, joseAlgs)
	if err != nil {
		return nil, fmt.Errorf("keys: parsing token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("keys: token must carry exactly one signature")
	}
	header := jws.Signatures[0].Header
	if got, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); !sameType(got, typ) {
		return nil, fmt.Errorf("keys: token type %q, want %q", got, typ)
	}
	set, err := m.load(ctx, m.reloadInterval)
	if err != nil {
		return nil, err
	}
	k := set.find(header.KeyID, m.now())
	if k == nil {
		// Another replica may have rotated since the cache was filled.
		if set, err = m.load(ctx, unknownKeyReloadGap); err != nil {
			return nil, err
		}
		if k = set.find(header.KeyID, m.now()); k == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, header.KeyID)
		}
	}
	// Each key is for one alg only (RFC 8725 §3.1).
	if k.jwk.Algorithm != header.Algorithm {
		return nil, fmt.Errorf("keys: token signed with %s names %q, a %s key", header.Algorithm, header.KeyID, k.jwk.Algorithm)
	}
	payload, err := jws.Verify(k.jwk.Public())
	if err != nil {
		return nil, fmt.Errorf("keys: verifying token signed by %q: %w", header.KeyID, err)
	}
	return payload, nil
}

// PublicKeys returns the public half of every key whose signatures may still
// be verified, of every algorithm: the current keys and retired keys until
// their PublishUntil.
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

// Refresh reads the store now and rotates any key that is due. The server's
// maintenance loop calls it so that rotation happens on schedule even when
// nothing is being signed.
func (m *Manager) Refresh(ctx context.Context) error {
	_, err := m.load(ctx, 0)
	return err
}

// sameType compares JOSE "typ" values the way RFC 7515 §4.1.9 asks:
// case-insensitively, with an omitted "application/" prefix.
func sameType(got, want string) bool {
	got = strings.TrimPrefix(strings.ToLower(got), "application/")
	return got == strings.ToLower(want)
}
