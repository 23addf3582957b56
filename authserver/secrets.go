package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// newSecret returns 256 random bits, base64url-encoded: the form of every
// code, access token, refresh token and CSRF token this server hands out.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read documents it)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is the storage key of a code or token. Only hashes are stored,
// so a leaked database holds nothing a client could present. The secrets
// carry 256 random bits, so a fast hash is enough.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// familyOf derives the token family of everything issued from an
// authorization code, so that a second presentation of the code, which the
// store recognises until the code expires (storage.ErrCodeReused), can
// revoke that family (RFC 6749 §4.1.2) without the family being stored with
// the code. The domain prefix keeps the family distinct from the code's own
// hash.
func familyOf(code string) string {
	sum := sha256.Sum256([]byte("gatehouse/token-family\x00" + code))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// s256 is the PKCE S256 transformation of a code verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// equalSecrets compares two secrets in time independent of their content.
func equalSecrets(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
