package authserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
)

// accessTokenClaims is the payload of a JWT access token (RFC 9068 §2.2).
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JWTID    string   `json:"jti"`
	// AuthTime is when the user signed in (RFC 9068 §2.2.1); absent when
	// the token has no user.
	AuthTime int64 `json:"auth_time,omitempty"`
}

// audience is the aud claim: a plain string when there is one audience,
// which the simplest verifiers expect, else an array (RFC 7519 §4.1.3).
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// newAccessToken returns a new access token for scopes of grant g, valid
// until expires. Clients registered for JWT access tokens get a JWS that
// resource servers verify offline (RFC 9068); the others an opaque random
// secret. Either way the caller stores the token by its hash, so userinfo
// and introspection see revocations of both kinds alike.
func (s *Server) newAccessToken(ctx context.Context, client *directory.Client, g grant, scopes []string, now, expires time.Time) (string, error) {
	if client.AccessTokenFormat != directory.AccessTokenJWT {
		return newSecret(), nil
	}
	claims := accessTokenClaims{
		Issuer:   s.cfg.Issuer,
		Subject:  g.Subject,
		Audience: client.AccessTokenAudience,
		ClientID: client.ID,
		Scope:    strings.Join(scopes, " "),
		Expiry:   expires.Unix(),
		IssuedAt: now.Unix(),
		JWTID:    newSecret(),
	}
	if g.Subject == "" {
		// A client acting for itself is the token's subject (RFC 9068 §2.2).
		claims.Subject = client.ID
	} else {
		claims.AuthTime = g.AuthTime.Unix()
	}
	if len(claims.Audience) == 0 {
		claims.Audience = audience{client.ID}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding access token claims: %w", err)
	}
	token, err := s.keys.Sign(ctx, client.SigningAlg, keys.TypeAccessToken, payload)
	if err != nil {
		return "", fmt.Errorf("signing access token: %w", err)
	}
	return token, nil
}
