package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// Grant types this server supports.
const (
	grantAuthorizationCode = directory.GrantAuthorizationCode
	grantRefreshToken      = directory.GrantRefreshToken
	grantClientCredentials = directory.GrantClientCredentials
)

// supportedGrantTypes lists the grant types, as the token endpoint accepts
// them and discovery advertises them.
func supportedGrantTypes() []string {
	return []string{grantAuthorizationCode, grantRefreshToken, grantClientCredentials}
}

// tokenResponse is a successful token response (RFC 6749 §5.1, OpenID
// Connect Core §3.1.3.3).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope"`
	// user is the person the tokens are for, for the log; empty for a
	// client acting for itself.
	user string
}

// grant is what one authorization, and every token issued from it, stands
// for. Each refresh token's row in the store carries it, so every refresh
// issues tokens for the same grant.
type grant struct {
	FamilyID string
	ClientID string
	Subject  string
	Scopes   []string
	Nonce    string
	AuthTime time.Time
}

// handleToken is the token endpoint (RFC 6749 §3.2).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	req, oerr := parseTokenRequest(form, r.Header.Values("Authorization"))
	if oerr != nil {
		return oerr
	}
	client, err := s.authenticateClient(r.Context(), req.clientAuth)
	if err != nil {
		return err
	}
	var resp *tokenResponse
	switch {
	case !slices.Contains(supportedGrantTypes(), req.GrantType):
		return newOAuthError(codeUnsupportedGrantType, http.StatusBadRequest, "grant_type %s is not supported; use one of: %s", req.GrantType, strings.Join(supportedGrantTypes(), " "))
	case !client.AllowsGrant(req.GrantType):
		return newOAuthError(codeUnauthorizedClient, http.StatusBadRequest, "client %s may not use grant_type %s; allowed: %s", client.ID, req.GrantType, strings.Join(client.GrantTypes, " "))
	case req.GrantType == grantAuthorizationCode:
		resp, err = s.exchangeCode(r.Context(), client, req)
	case req.GrantType == grantClientCredentials:
		resp, err = s.clientCredentials(r.Context(), client, req)
	default:
		resp, err = s.refresh(r.Context(), client, req)
	}
	if err != nil {
		return err
	}
	s.metrics.tokensIssued(req.GrantType)
	args := []any{"grant_type", req.GrantType, "client_id", client.ID,
		"scope", resp.Scope, "refresh_token", resp.RefreshToken != "", "id_token", resp.IDToken != ""}
	if resp.user != "" {
		args = append(args, "user", resp.user)
	}
	s.log.InfoContext(r.Context(), "tokens issued", args...)
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// exchangeCode redeems an authorization code (RFC 6749 §4.1.3).
func (s *Server) exchangeCode(ctx context.Context, client *directory.Client, req *tokenRequest) (*tokenResponse, error) {
	if req.Code == "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "code is missing")
	}
	code, err := s.cfg.Store.ClaimAuthCode(ctx, hashSecret(req.Code), s.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Never issued, or expired: nothing to revoke, and nothing is
		// written, so guessed codes cannot grow the store.
		return nil, invalidGrant("the authorization code is invalid or expired; start a new authorization request")
	case errors.Is(err, storage.ErrCodeReused):
		// Someone else holds the code: revoke what it produced
		// (RFC 6749 §4.1.2), also tokens the redeeming request has yet to
		// store.
		if err := s.cfg.Store.RevokeFamily(ctx, familyOf(req.Code), s.revokeUntil()); err != nil {
			return nil, fmt.Errorf("revoking tokens of a reused authorization code: %w", err)
		}
		s.log.WarnContext(ctx, "authorization code used twice; all tokens of its grant revoked", "client_id", client.ID, "user", code.Subject)
		return nil, usedTwice("authorization code")
	case err != nil:
		return nil, fmt.Errorf("claiming authorization code: %w", err)
	}
	switch {
	case code.ClientID != client.ID:
		return nil, invalidGrant("the authorization code was issued to another client")
	case code.RedirectURI != "" && req.RedirectURI != code.RedirectURI:
		return nil, invalidGrant("redirect_uri must be %s, as in the authorization request", code.RedirectURI)
	case code.RedirectURI == "" && req.RedirectURI != "" && !slices.Contains(client.RedirectURIs, req.RedirectURI):
		return nil, invalidGrant("redirect_uri %s is not registered for client %s", req.RedirectURI, client.ID)
	}
	if err := checkPKCE(client, &code, req.CodeVerifier); err != nil {
		return nil, err
	}
	user := s.directory().User(code.Subject)
	if user == nil {
		return nil, invalidGrant("the user of this authorization code no longer exists")
	}
	g := grant{
		FamilyID: familyOf(req.Code),
		ClientID: client.ID,
		Subject:  user.ID,
		Scopes:   code.Scopes,
		Nonce:    code.Nonce,
		AuthTime: code.AuthTime,
	}
	s.log.DebugContext(ctx, "authorization code redeemed", "client_id", client.ID, "user", user.ID, "pkce", code.CodeChallenge != "")
	resp, err := s.issueAccess(ctx, client, user, g, g.Scopes)
	if err != nil {
		return nil, s.revokedMeanwhile(ctx, client, "authorization code", err)
	}
	if client.AllowsGrant(grantRefreshToken) {
		token, row := s.newRefreshToken(g)
		if err := s.cfg.Store.CreateRefreshToken(ctx, row); err != nil {
			return nil, s.revokedMeanwhile(ctx, client, "authorization code", fmt.Errorf("storing refresh token: %w", err))
		}
		resp.RefreshToken = token
	}
	return resp, nil
}

// checkPKCE verifies the code verifier against the code's challenge
// (RFC 7636 §4.6). A verifier sent for a code without challenge is refused
// too, which stops PKCE downgrade attacks (RFC 9700 §2.1.1).
func checkPKCE(client *directory.Client, code *storage.AuthCode, verifier string) error {
	switch {
	case code.CodeChallenge == "" && verifier != "":
		return invalidGrant("code_verifier was sent, but the authorization request had no code_challenge")
	case code.CodeChallenge == "" && (client.Public() || client.RequirePKCE):
		return invalidGrant("client %s must use PKCE, but the authorization request had no code_challenge", client.ID)
	case code.CodeChallenge == "":
		return nil
	case verifier == "":
		return newOAuthError(codeInvalidRequest, http.StatusBadRequest, "code_verifier is missing; the authorization request had a code_challenge")
	case !validCodeVerifier(verifier):
		return invalidGrant("code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")
	case code.CodeChallengeMethod != "S256" || !equalSecrets(s256(verifier), code.CodeChallenge):
		return invalidGrant("code_verifier does not match the code_challenge of the authorization request")
	}
	return nil
}

// refresh uses a refresh token (RFC 6749 §6). Every use rotates the token;
// presenting a rotated token again revokes the whole family, because only a
// stolen copy can be presented twice (RFC 9700 §4.14.2), unless it is the
// same client's retry within RefreshRetryGrace (see answerReuse). Every
// check runs on the stored row before the rotation, so a mistaken request
// changes nothing.
func (s *Server) refresh(ctx context.Context, client *directory.Client, req *tokenRequest) (*tokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "refresh_token is missing")
	}
	id := hashSecret(req.RefreshToken)
	old, err := s.cfg.Store.GetRefreshToken(ctx, id, s.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, invalidGrant("the refresh token is invalid, expired or revoked")
	case err != nil:
		return nil, fmt.Errorf("looking up refresh token: %w", err)
	case old.ClientID != client.ID:
		// Not a use of the token at all: it is bound to its client
		// (RFC 6749 §6), so this changes nothing, even for a used token.
		return nil, invalidGrant("the refresh token was issued to another client")
	case !old.UsedAt.IsZero():
		return s.answerReuse(ctx, client, req, old)
	}
	// The client's allowed scopes may have shrunk since the grant; the
	// grant keeps only those the configuration still allows.
	granted := intersect(old.Scopes, client.Scopes)
	if len(granted) == 0 {
		return nil, invalidGrant("none of the scopes of this grant (%s) is allowed for client %s any more; start a new authorization request",
			strings.Join(old.Scopes, " "), client.ID)
	}
	scopes := granted
	if req.ScopeGiven {
		if len(req.Scopes) == 0 || !coversAll(granted, req.Scopes) {
			return nil, newOAuthError(codeInvalidScope, http.StatusBadRequest,
				"a refresh may narrow the scope but not widen it; granted: %s", strings.Join(granted, " "))
		}
		scopes = req.Scopes
	}
	user := s.directory().User(old.Subject)
	if user == nil {
		return nil, invalidGrant("the user of this refresh token no longer exists")
	}
	g := grant{
		FamilyID: old.FamilyID,
		ClientID: old.ClientID,
		Subject:  old.Subject,
		Scopes:   granted, // a narrowed refresh keeps the grant (RFC 6749 §6)
		Nonce:    old.Nonce,
		AuthTime: old.AuthTime,
	}
	// The whole answer, its access token stored, exists before the
	// rotation: a retry that finds the rotation done (see answerReuse) must
	// also find everything it answers with.
	resp, err := s.issueAccess(ctx, client, user, g, scopes)
	if err != nil {
		return nil, s.revokedMeanwhile(ctx, client, "refresh token", err)
	}
	token, row := s.newRefreshToken(g)
	resp.RefreshToken = token
	var used storage.RefreshToken
	retry, err := s.sealRetry(id, req, resp)
	if err == nil {
		used, err = s.cfg.Store.RotateRefreshToken(ctx, id, row, retry, s.now())
	}
	if err != nil {
		// This request's access token will not be handed out.
		if derr := s.cfg.Store.DeleteAccessToken(ctx, hashSecret(resp.AccessToken)); derr != nil {
			s.log.ErrorContext(ctx, "removing the access token of a failed refresh", "error", derr)
		}
	}
	switch {
	case errors.Is(err, storage.ErrTokenReused):
		// Another request rotated the token since the lookup.
		return s.answerReuse(ctx, client, req, used)
	case errors.Is(err, storage.ErrNotFound):
		// Revoked or expired since the lookup.
		return nil, invalidGrant("the refresh token is invalid, expired or revoked")
	case err != nil:
		return nil, s.revokedMeanwhile(ctx, client, "refresh token", fmt.Errorf("rotating refresh token: %w", err))
	}
	return resp, nil
}

// refuseReuse answers the presentation of a refresh token t that was already
// rotated: it revokes every token of t's family.
func (s *Server) refuseReuse(ctx context.Context, client *directory.Client, t storage.RefreshToken) error {
	if err := s.cfg.Store.RevokeFamily(ctx, t.FamilyID, s.revokeUntil()); err != nil {
		return fmt.Errorf("revoking reused refresh token family: %w", err)
	}
	s.log.WarnContext(ctx, "refresh token reused; all tokens of its grant revoked", "client_id", client.ID, "user", t.Subject)
	return invalidGrant("the refresh token was already used, so every token of this grant has been revoked; sign in again")
}

// revokeUntil is how long a family revocation made now must be remembered:
// until no token of the family issued before it could still be live, and
// the refresh token lives longest.
func (s *Server) revokeUntil() time.Time {
	return s.now().Add(s.cfg.RefreshTokenTTL)
}

// revokedMeanwhile turns err, from storing the tokens of a grant whose code
// (or refresh token, as what says) this request claimed, into the answer for
// the client when it is storage.ErrRevoked: a replay of the same code or
// token revoked the grant after the claim, so nothing this request issued
// may be used. Any other err is returned as it is.
func (s *Server) revokedMeanwhile(ctx context.Context, client *directory.Client, what string, err error) error {
	if !errors.Is(err, storage.ErrRevoked) {
		return err
	}
	s.log.WarnContext(ctx, what+" presented twice at once; all tokens of its grant revoked", "client_id", client.ID)
	return usedTwice(what)
}

// usedTwice is the answer to a client that presented a code or token (as
// what says) whose grant was revoked because it was presented twice.
func usedTwice(what string) error {
	return invalidGrant("the %s was used twice, so every token of this grant has been revoked; sign in again", what)
}

// issueAccess makes and stores an access token for scopes (the grant's or
// fewer) and, when openid is among them, an ID token for user. The user is
// nil for a client acting for itself, whose grant has no Subject.
func (s *Server) issueAccess(ctx context.Context, client *directory.Client, user *directory.User, g grant, scopes []string) (*tokenResponse, error) {
	now := s.now()
	expires := now.Add(s.cfg.AccessTokenTTL)
	access, err := s.newAccessToken(ctx, client, g, scopes, now, expires)
	if err != nil {
		return nil, err
	}
	resp := &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.AccessTokenTTL / time.Second),
		Scope:       strings.Join(scopes, " "),
	}
	if user != nil {
		resp.user = user.ID
	}
	if slices.Contains(scopes, "openid") {
		idToken, err := s.signIDToken(ctx, user, idTokenParams{
			clientID:    g.ClientID,
			scopes:      scopes,
			nonce:       g.Nonce,
			authTime:    g.AuthTime,
			accessToken: access,
			sid:         sessionID(g.Subject, g.AuthTime),
		})
		if err != nil {
			return nil, fmt.Errorf("signing ID token: %w", err)
		}
		resp.IDToken = idToken
	}
	err = s.cfg.Store.CreateAccessToken(ctx, storage.AccessToken{
		ID:        hashSecret(access),
		FamilyID:  g.FamilyID,
		ClientID:  g.ClientID,
		Subject:   g.Subject,
		Scopes:    scopes,
		AuthTime:  g.AuthTime,
		CreatedAt: now,
		ExpiresAt: expires,
	})
	if err != nil {
		return nil, fmt.Errorf("storing access token: %w", err)
	}
	return resp, nil
}

// newRefreshToken returns a new refresh token for g and the row to store
// for it. The token is a random secret that says nothing by itself: the row,
// found by the token's hash, is the only record of the grant.
func (s *Server) newRefreshToken(g grant) (string, storage.RefreshToken) {
	token := newSecret()
	now := s.now()
	return token, storage.RefreshToken{
		ID:        hashSecret(token),
		FamilyID:  g.FamilyID,
		ClientID:  g.ClientID,
		Subject:   g.Subject,
		Scopes:    g.Scopes,
		Nonce:     g.Nonce,
		AuthTime:  g.AuthTime,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
	}
}

func invalidGrant(format string, args ...any) *oauthError {
	return newOAuthError(codeInvalidGrant, http.StatusBadRequest, format, args...)
}
