package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/keys"
)

// userClaims are the claims about a user that the granted scopes release
// (OpenID Connect Core §5.4), in ID tokens and from the userinfo endpoint.
type userClaims struct {
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

// claimsFor returns the claims about u that scopes release.
func claimsFor(u *directory.User, scopes []string) userClaims {
	var c userClaims
	if slices.Contains(scopes, "profile") {
		c.Name = u.Name
		c.PreferredUsername = u.ID
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		verified := u.EmailVerified
		c.Email, c.EmailVerified = u.Email, &verified
	}
	if slices.Contains(scopes, "groups") {
		c.Groups = u.Groups
	}
	return c
}

// idTokenClaims is the payload of an ID token (OpenID Connect Core §2).
type idTokenClaims struct {
	Issuer          string `json:"iss"`
	Subject         string `json:"sub"`
	Audience        string `json:"aud"`
	Expiry          int64  `json:"exp"`
	IssuedAt        int64  `json:"iat"`
	AuthTime        int64  `json:"auth_time"`
	Nonce           string `json:"nonce,omitempty"`
	AccessTokenHash string `json:"at_hash,omitempty"`
	AuthorizedParty string `json:"azp"`
	SessionID       string `json:"sid,omitempty"`
	userClaims
}

// idTokenParams is what an ID token says beyond the user's claims.
type idTokenParams struct {
	clientID    string
	scopes      []string
	nonce       string
	authTime    time.Time
	accessToken string
	sid         string // the login session's (Back-Channel Logout 1.0 §2.1)
}

// signIDToken makes an ID token for user.
func (s *Server) signIDToken(ctx context.Context, user *directory.User, p idTokenParams) (string, error) {
	now := s.now()
	payload, err := json.Marshal(idTokenClaims{
		Issuer:          s.cfg.Issuer,
		Subject:         user.ID,
		Audience:        p.clientID,
		Expiry:          now.Add(s.cfg.IDTokenTTL).Unix(),
		IssuedAt:        now.Unix(),
		AuthTime:        p.authTime.Unix(),
		Nonce:           p.nonce,
		AccessTokenHash: accessTokenHash(p.accessToken),
		AuthorizedParty: p.clientID,
		SessionID:       p.sid,
		userClaims:      claimsFor(user, p.scopes),
	})
	if err != nil {
		return "", fmt.Errorf("encoding ID token claims: %w", err)
	}
	return s.keys.Sign(ctx, s.signingAlg(p.clientID), keys.TypeIDToken, payload)
}

// signingAlg is the JWS alg of the tokens signed for a client: its
// id_token_signed_response_alg, or "" for the server's default.
func (s *Server) signingAlg(clientID string) string {
	if c := s.directory().Client(clientID); c != nil {
		return c.SigningAlg
	}
	return ""
}

// accessTokenHash is the at_hash claim (OpenID Connect Core §3.1.3.6): the
// left half of the access token's hash, base64url-encoded, with the hash of
// the ID token's alg. Both algorithms a client may choose, ES256 and RS256,
// use SHA-256.
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
