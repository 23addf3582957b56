// Package storage defines what the authorization server keeps between
// requests, restarts and replicas, as one small interface that every backend
// (memory, SQLite, PostgreSQL) implements and one conformance suite checks.
//
// Users and clients are configuration, not state, and are not kept here.
// Secrets handed to clients (codes, tokens) are never stored as given: the
// authserver stores a hash of each and looks rows up by that hash, so a leaked
// database does not leak usable credentials.
package storage

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions, so callers can use
// errors.Is regardless of the backend.
var (
	// ErrNotFound means no live row has that key: it never existed or has
	// expired (or, for a token, its family was revoked).
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists means a row with that key is already stored.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrCodeReused means a live authorization code that had already been
	// claimed was claimed again. RFC 6749 §4.1.2 has the caller refuse it and
	// revoke the tokens issued from it. Only a code that was really issued
	// gives it, so it is safe to answer with a write.
	ErrCodeReused = errors.New("storage: authorization code already used")
	// ErrTokenReused means a refresh token that had already been rotated was
	// presented again. RFC 9700 §4.14.2 treats this as a sign of theft: the
	// caller should revoke the whole family.
	ErrTokenReused = errors.New("storage: refresh token already used")
	// ErrRevoked means a token was not stored because its family was revoked
	// and the store still remembers the revocation (see Store.RevokeFamily).
	ErrRevoked = errors.New("storage: token family revoked")
)

// AuthCode is an authorization code and everything it was bound to when it
// was issued (RFC 6749 §4.1.2, RFC 7636 §4.4).
type AuthCode struct {
	ID                  string // hash of the code handed to the client
	ClientID            string
	RedirectURI         string // as sent in the authorization request ("" when omitted)
	Scopes              []string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	Subject             string
	AuthTime            time.Time
	ExpiresAt           time.Time
}

// RefreshToken is one refresh token of a family. A family starts with the
// code exchange; each rotation adds a token and marks its parent used.
type RefreshToken struct {
	ID        string // hash of the token handed to the client
	FamilyID  string
	ClientID  string
	Subject   string
	Scopes    []string
	Nonce     string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set once the token has been rotated; it stays stored until it
	// expires so that a replay is recognised as reuse, not as unknown.
	UsedAt time.Time
	// Retry is what the rotation that used the token stored with it (see
	// RotateRefreshToken): the sealed answer to hand a client that retries
	// the same refresh shortly after. Nil when none was stored.
	Retry []byte
}

// AccessToken is an opaque bearer token (RFC 6750) as the resource endpoints
// see it. FamilyID ties it to the refresh family it came from, if any, so a
// family revocation also ends its access tokens.
type AccessToken struct {
	ID        string // hash of the token handed to the client
	FamilyID  string
	ClientID  string
	Subject   string
	Scopes    []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent records that a user approved scopes for a client, so the consent
// page need not be shown again until it expires.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
	ExpiresAt time.Time
}

// SigningKey is one key pair that signs (or signed) tokens.
type SigningKey struct {
	ID         string // the JWK "kid"
	Algorithm  string // the JWS "alg", e.g. ES256
	PrivateJWK []byte // JSON encoding of the private JWK
	CreatedAt  time.Time
	// RetiredAt is zero for the keys that sign now, one per algorithm. Once
	// set, the key only verifies; it stays published until PublishUntil.
	RetiredAt    time.Time
	PublishUntil time.Time
}

// GCResult counts what GarbageCollect removed.
type GCResult struct {
	AuthCodes, RefreshTokens, AccessTokens, Consents, SigningKeys int64
	// RevokedFamilies counts revocations no longer remembered.
	RevokedFamilies int64
	// Claims counts ClaimOnce records.
	Claims int64
}

// Store is the authorization server's state. All methods are safe for
// concurrent use, also by several processes sharing one database.
//
// Every lookup takes now and treats rows that expired at or before it as
// absent, so expiry never depends on the garbage collector having run.
// Times come back in UTC, truncated to whole milliseconds; nil and empty
// slices are not told apart.
type Store interface {
	// CreateAuthCode stores a new code; ErrAlreadyExists if the ID is taken.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ClaimAuthCode atomically marks the live, unclaimed code with this ID
	// used and returns it. The code stays stored until its ExpiresAt, so that
	// a replay is recognised as reuse, not as unknown. Of any number of
	// concurrent claims of one code exactly one succeeds; the others, and
	// every later claim while the code is live, get ErrCodeReused together
	// with the stored code (so the caller knows what it was bound to). An
	// unknown or expired code, used or not, gives ErrNotFound. Only a
	// successful claim changes anything.
	ClaimAuthCode(ctx context.Context, id string, now time.Time) (AuthCode, error)

	// CreateRefreshToken stores the first token of a family; ErrRevoked if
	// the family's revocation is remembered (see RevokeFamily), else
	// ErrAlreadyExists if the ID is taken.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns the live token with this ID, used or not: a
	// used one comes back with UsedAt set, so the caller can recognise a
	// replay before trying to rotate it. An unknown, expired or revoked token
	// gives ErrNotFound.
	GetRefreshToken(ctx context.Context, id string, now time.Time) (RefreshToken, error)
	// RotateRefreshToken atomically marks the live, unused token oldID as used
	// at now and stores next in its place, returning the old token. Of any
	// number of concurrent rotations of one token exactly one succeeds.
	// A token already used gives ErrTokenReused together with the old token
	// (so the caller knows the family to revoke); an unknown or expired one
	// gives ErrNotFound; next in a family whose revocation is remembered
	// gives ErrRevoked, else a next.ID already taken gives ErrAlreadyExists;
	// these three change nothing. On success the old token comes back with
	// UsedAt = now and Retry = retry, which is stored with it (nil stores
	// nothing) and returned with it from then on.
	RotateRefreshToken(ctx context.Context, oldID string, next RefreshToken, retry []byte, now time.Time) (RefreshToken, error)
	// RevokeFamily removes every refresh and access token of the family and
	// remembers the revocation until until: while remembered, a token of the
	// family created (CreatedAt) before until is refused with ErrRevoked by
	// CreateRefreshToken, CreateAccessToken and RotateRefreshToken (as next),
	// which then store nothing. Each of those is atomic with respect to
	// RevokeFamily: once a create and a revocation of one family have both
	// returned, in whatever order they ran, no token of the family is left.
	// That closes the gap between claiming a code (or rotating a token) and
	// storing the tokens it yields, during which a replay may revoke the
	// family. Revoking a family again keeps the later until. An empty
	// familyID names no family: nothing is removed or remembered.
	RevokeFamily(ctx context.Context, familyID string, until time.Time) error
	// FamilyRevoked reports whether a revocation of familyID is remembered
	// at now, i.e. RevokeFamily was called with an until after now. It also
	// serves families that own no tokens here, such as login sessions.
	FamilyRevoked(ctx context.Context, familyID string, now time.Time) (bool, error)

	// CreateAccessToken stores an opaque access token; ErrRevoked if its
	// family's revocation is remembered (see RevokeFamily), else
	// ErrAlreadyExists if the ID is taken.
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// GetAccessToken returns the live access token with this ID.
	GetAccessToken(ctx context.Context, id string, now time.Time) (AccessToken, error)
	// DeleteAccessToken removes the access token with this ID. Removing one
	// that is not stored is not an error (RFC 7009 §2.2).
	DeleteAccessToken(ctx context.Context, id string) error

	// ClaimOnce records key until until and returns nil, unless a record of
	// key is still live at now (until after now), in which case it returns
	// ErrAlreadyExists and changes nothing. Of any number of concurrent
	// claims of one key exactly one succeeds. It makes one-time things, such
	// as a submitted form, usable once across replicas.
	ClaimOnce(ctx context.Context, key string, until, now time.Time) error

	// PutConsent creates or replaces the consent of (Subject, ClientID).
	PutConsent(ctx context.Context, c Consent) error
	// GetConsent returns the live consent of subject for clientID.
	GetConsent(ctx context.Context, subject, clientID string, now time.Time) (Consent, error)

	// SigningKeys returns every stored signing key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys replaces the stored key set with what update returns,
	// as one atomic compare-and-swap: replicas calling it at once are
	// serialised, and each update sees the set the previous one left. If
	// update returns an error nothing changes and that error is returned.
	// update runs while the store is locked, so it must not call the store.
	UpdateSigningKeys(ctx context.Context, update func(current []SigningKey) ([]SigningKey, error)) error

	// GarbageCollect removes rows that expired at or before now: codes and
	// refresh tokens (used or not), access tokens, consents, revocations
	// remembered until now or earlier, ClaimOnce records, and retired
	// signing keys whose PublishUntil has passed.
	GarbageCollect(ctx context.Context, now time.Time) (GCResult, error)

	// Ping reports whether the backend can serve requests now, as cheaply
	// as it can find out (a round trip to the database server); readiness
	// probes call it.
	Ping(ctx context.Context) error

	// Close releases the backend's resources.
	Close() error
}
