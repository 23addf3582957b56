package authserver

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// handleUserInfo is the UserInfo endpoint (OpenID Connect Core §5.3): the
// claims the access token's scopes release about its user.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) error {
	token, user, err := s.authenticateBearer(w, r)
	if err != nil {
		return err
	}
	if user == nil {
		// 403 insufficient_scope, not 401 invalid_token: the token is
		// valid, and invalid_token would send the client to fetch another
		// of the same kind. What it lacks is a user's grant of openid,
		// which no client_credentials token can carry (RFC 6750 §3.1).
		e := newOAuthError(codeInsufficientScope, http.StatusForbidden,
			"this access token was issued to client %s itself (client_credentials), not for a user; userinfo needs a token a user granted with the openid scope", token.ClientID)
		e.challenge = `Bearer error="insufficient_scope", scope="openid"`
		return e
	}
	if !slices.Contains(token.Scopes, "openid") {
		e := newOAuthError(codeInsufficientScope, http.StatusForbidden, "the userinfo endpoint needs an access token with the openid scope")
		e.challenge = `Bearer error="insufficient_scope", scope="openid"`
		return e
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, struct {
		Subject string `json:"sub"`
		userClaims
	}{user.ID, claimsFor(user, token.Scopes)})
	return nil
}

// handleAPIMe is the tutorial's resource endpoint, kept for its sample
// client: who the access token was issued to and for whom. A token a
// client got for itself has no user; its subject is the client
// (RFC 9068 §2.2).
func (s *Server) handleAPIMe(w http.ResponseWriter, r *http.Request) error {
	token, user, err := s.authenticateBearer(w, r)
	if err != nil {
		return err
	}
	me := struct {
		ClientID string `json:"client_id"`
		UserID   string `json:"user_id,omitempty"`
		Scope    string `json:"scope"`
		Subject  string `json:"sub"`
	}{ClientID: token.ClientID, Scope: strings.Join(token.Scopes, " "), Subject: token.ClientID}
	if user != nil {
		me.UserID, me.Subject = user.ID, user.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, me)
	return nil
}

// authenticateBearer returns the live access token of the request and its
// user, nil for a token a client got for itself (empty Subject). The token comes from the Authorization header or, in a
// form-encoded POST body, from access_token (RFC 6750 §2.1, §2.2).
func (s *Server) authenticateBearer(w http.ResponseWriter, r *http.Request) (storage.AccessToken, *directory.User, error) {
	var form url.Values
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost && mt == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return storage.AccessToken{}, nil, bearerError(codeInvalidRequest, http.StatusBadRequest, "the request body is not a valid form encoding or is too large; send the token as Authorization: Bearer <token>")
		}
		form = r.PostForm
	}
	raw, oerr := parseBearer(r.Header.Values("Authorization"), form)
	if oerr != nil {
		return storage.AccessToken{}, nil, oerr
	}
	token, err := s.cfg.Store.GetAccessToken(r.Context(), hashSecret(raw), s.now())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.AccessToken{}, nil, invalidToken("the access token is unknown, expired or revoked")
	case err != nil:
		return storage.AccessToken{}, nil, fmt.Errorf("reading access token: %w", err)
	}
	if token.Subject == "" {
		return token, nil, nil
	}
	user := s.directory().User(token.Subject)
	if user == nil {
		return storage.AccessToken{}, nil, invalidToken("the user of this access token no longer exists")
	}
	return token, user, nil
}
