package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/authserver/storage"
)

// Token type hints (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	hintAccessToken  = "access_token"
	hintRefreshToken = "refresh_token"
)

// tokenQuery is a request about one token, as the revocation (RFC 7009
// §2.1) and introspection (RFC 7662 §2.1) endpoints take it.
type tokenQuery struct {
	clientAuth
	Token string
	// Hint is token_type_hint as sent; it is not checked here because the
	// two endpoints treat unknown hints differently.
	Hint string
}

// parseTokenQuery checks a request to the revocation or introspection
// endpoint: its form (see parseForm) and the values of its Authorization
// header.
func parseTokenQuery(form url.Values, authorization []string) (*tokenQuery, *oauthError) {
	auth, oerr := parseClientAuth(form, authorization)
	if oerr != nil {
		return nil, oerr
	}
	q := &tokenQuery{clientAuth: auth, Token: form.Get("token"), Hint: form.Get("token_type_hint")}
	if q.Token == "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "token is missing; send the token to act on in the token parameter")
	}
	return q, nil
}

// readTokenQuery reads the form of a revocation or introspection request
// and authenticates its client.
func (s *Server) readTokenQuery(w http.ResponseWriter, r *http.Request) (*tokenQuery, *directory.Client, error) {
	form, err := readForm(w, r)
	if err != nil {
		return nil, nil, err
	}
	q, oerr := parseTokenQuery(form, r.Header.Values("Authorization"))
	if oerr != nil {
		return nil, nil, oerr
	}
	client, err := s.authenticateClient(r.Context(), q.clientAuth)
	if err != nil {
		return nil, nil, err
	}
	return q, client, nil
}

// knownHint reports whether hint names a token type this server issues.
func knownHint(hint string) bool { return hint == hintAccessToken || hint == hintRefreshToken }

// foundToken is a stored token, of whichever client; at most one field is
// set, and none when the token is unknown, expired or revoked.
type foundToken struct {
	access  *storage.AccessToken
	refresh *storage.RefreshToken // used ones too
}

// findToken looks q's token up as an access token and as a refresh token.
// The hint only decides which comes first (RFC 7009 §2.1: an unknown or
// wrong hint still finds the token).
func (s *Server) findToken(ctx context.Context, q *tokenQuery) (foundToken, error) {
	id := hashSecret(q.Token)
	findAccess := func() (foundToken, error) {
		t, err := s.cfg.Store.GetAccessToken(ctx, id, s.now())
		if err != nil {
			return foundToken{}, err
		}
		return foundToken{access: &t}, nil
	}
	findRefresh := func() (foundToken, error) {
		t, err := s.cfg.Store.GetRefreshToken(ctx, id, s.now())
		if err != nil {
			return foundToken{}, err
		}
		return foundToken{refresh: &t}, nil
	}
	order := []func() (foundToken, error){findAccess, findRefresh}
	if q.Hint == hintRefreshToken {
		order[0], order[1] = findRefresh, findAccess
	}
	for _, find := range order {
		found, err := find()
		switch {
		case err == nil:
			return found, nil
		case !errors.Is(err, storage.ErrNotFound):
			return foundToken{}, fmt.Errorf("looking up token: %w", err)
		}
	}
	return foundToken{}, nil
}
