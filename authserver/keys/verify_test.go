package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/authserver/storage/memory"
)

// forge signs a token with key under alg, naming kid as if it were ours.
func forge(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType(TypeIDToken))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"mallory"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyRefusesOtherAlgorithms(t *testing.T) {
	m := newManager(t, memory.New(), newClock(), ES256)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		t.Fatal(err)
	}
	// Every forgery is tried against the kid of each of our keys.
	for _, alg := range supported {
		_, kid := signedKID(t, m, alg, alg, `{}`)
		tests := []struct {
			name  string
			token string
		}{
			// HS256 keyed with something public is the classic confusion attack.
			{"HS256", forge(t, jose.HS256, []byte("a shared secret of thirty-two bytes"), kid)},
			{"ES384", forge(t, jose.ES384, p384, kid)},
			{"PS256", forge(t, jose.PS256, rsaKey, kid)},
			{"none", b64(`{"alg":"none","kid":"`+kid+`"}`) + "." + b64(`{"sub":"mallory"}`) + "."},
			{"garbage", "not.a.jws"},
			{"ES256, foreign key", forge(t, jose.ES256, p256, kid)},
			{"RS256, foreign key", forge(t, jose.RS256, rsaKey, kid)},
		}
		for _, tt := range tests {
			t.Run(alg+" kid, "+tt.name, func(t *testing.T) {
				if payload, err := m.Verify(context.Background(), tt.token, TypeIDToken); err == nil {
					t.Errorf("Verify accepted a %s token: payload %q", tt.name, payload)
				}
			})
		}
	}
}
