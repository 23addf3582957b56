package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/authserver/keys"
)

// hintClaims are the claims of an id_token_hint that requests rely on.
type hintClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"` // this server issues one audience, as a string
	SessionID string `json:"sid"`
}

// verifyHint checks that token is an ID token this server signed and
// returns its claims. Its expiry does not matter: a hint names a user and
// session, it grants nothing (OpenID Connect Core §3.1.2.1, RP-Initiated
// Logout 1.0 §2).
func (s *Server) verifyHint(ctx context.Context, token string) (*hintClaims, error) {
	payload, err := s.keys.Verify(ctx, token, keys.TypeIDToken)
	if err != nil {
		return nil, err
	}
	var c hintClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("decoding claims: %w", err)
	}
	if c.Issuer != s.cfg.Issuer || c.Subject == "" || c.Audience == "" {
		return nil, errors.New("issuer, audience or subject do not match")
	}
	return &c, nil
}
