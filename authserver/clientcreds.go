package authserver

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// clientCredentials is the client credentials grant (RFC 6749 §4.4): a
// confidential client gets an access token for itself, with no user. It
// gets no refresh token (§4.4.3), since it can simply ask again, and no ID
// token, since nobody signed in. The stored token has no Subject and no
// family: it is revoked by itself or expires.
func (s *Server) clientCredentials(ctx context.Context, client *directory.Client, req *tokenRequest) (*tokenResponse, error) {
	if client.Public() {
		// A public client's ID is no secret, so anyone could act as it.
		return nil, newOAuthError(codeUnauthorizedClient, http.StatusBadRequest,
			"client %s is a public client; client_credentials is only for confidential clients, which authenticate with a secret", client.ID)
	}
	scopes, err := serviceScopes(client, req)
	if err != nil {
		return nil, err
	}
	return s.issueAccess(ctx, client, nil, grant{ClientID: client.ID, Scopes: scopes}, scopes)
}

// serviceScopes returns the scopes of a client credentials request: those
// requested, or every scope the client may have without a user when the
// request names none. Unlike at the authorization endpoint, where a person
// narrows what is granted, a scope the client may not have is an error, as
// nobody is there to see what was dropped.
func serviceScopes(client *directory.Client, req *tokenRequest) ([]string, *oauthError) {
	allowed := slices.DeleteFunc(slices.Clone(client.Scopes), isUserScope)
	fail := func(format string, args ...any) ([]string, *oauthError) {
		return nil, newOAuthError(codeInvalidScope, http.StatusBadRequest, format, args...)
	}
	switch {
	case !req.ScopeGiven && len(allowed) == 0:
		return fail("client %s has no scope it may be granted without a user (openid and offline_access need one); add scopes to its configuration", client.ID)
	case !req.ScopeGiven:
		return allowed, nil
	case len(req.Scopes) == 0:
		return fail("scope is empty; omit it to be granted every scope of client %s (%s), or name some", client.ID, strings.Join(allowed, " "))
	}
	if i := slices.IndexFunc(req.Scopes, isUserScope); i >= 0 {
		return fail("scope %s needs a user, but client_credentials issues a token to the client itself; leave it out", req.Scopes[i])
	}
	denied := slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool { return slices.Contains(allowed, sc) })
	if len(denied) > 0 {
		return fail("scope %s is not allowed for client %s; allowed: %s", strings.Join(denied, " "), client.ID, strings.Join(allowed, " "))
	}
	return req.Scopes, nil
}

// isUserScope reports whether scope only makes sense when a user signs in:
// openid asks for the user's identity, offline_access for access while the
// user is away.
func isUserScope(scope string) bool { return scope == "openid" || scope == "offline_access" }
