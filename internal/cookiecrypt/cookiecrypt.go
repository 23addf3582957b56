// Package cookiecrypt turns configured secrets into securecookie codecs, so
// both halves of gatehouse encrypt and authenticate cookies the same way and
// an operator only has to manage one secret per key generation.
package cookiecrypt

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/gorilla/securecookie"
)

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 32

// Codecs returns one codec per secret, in order: securecookie encodes with
// the first and decodes with whichever matches, which is what key rotation
// needs. purpose separates keys of different cookies made from one secret,
// so a value minted for one cookie never decodes as another. maxAge is the
// longest age, in seconds, a decoded value may have (0: no limit).
func Codecs(purpose string, secrets [][]byte, maxAge int) ([]securecookie.Codec, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("cookiecrypt: no secret given")
	}
	codecs := make([]securecookie.Codec, 0, len(secrets))
	for i, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, fmt.Errorf("cookiecrypt: secret %d is %d bytes; at least %d are needed", i+1, len(secret), MinSecretLen)
		}
		// Separate keys for MAC and encryption, derived rather than sliced so
		// each is uniformly random even when the secret is a passphrase.
		hashKey, err := hkdf.Key(sha256.New, secret, nil, "gatehouse/"+purpose+"/hmac", 32)
		if err != nil {
			return nil, err
		}
		blockKey, err := hkdf.Key(sha256.New, secret, nil, "gatehouse/"+purpose+"/aes", 32)
		if err != nil {
			return nil, err
		}
		sc := securecookie.New(hashKey, blockKey)
		sc.MaxAge(maxAge)
		sc.MaxLength(0) // size is limited by the callers and by browsers
		codecs = append(codecs, sc)
	}
	return codecs, nil
}
