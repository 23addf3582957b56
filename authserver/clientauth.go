package authserver

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// The token, revocation and introspection endpoints take the same kind of
// request: a POSTed form from an authenticating client. This file reads and
// checks what they share.

// clientAuth is how a request's client identified itself (RFC 6749 §2.3).
type clientAuth struct {
	ClientID string
	Secret   string
	// AuthMethod is how the client tried to authenticate: one of the
	// directory.Auth* methods.
	AuthMethod string
}

// readForm reads the form body of a POST to a client endpoint. Its answers
// carry credentials or say whether a token is live, so none may be cached
// (RFC 6749 §5.1, RFC 7662 §2.2).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		h.Set("Allow", http.MethodPost)
		return nil, newOAuthError(codeInvalidRequest, http.StatusMethodNotAllowed, "this endpoint only accepts POST")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "the request body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "the request body could not be read or is larger than %d bytes", maxFormBytes)
	}
	form, oerr := parseForm(string(body))
	if oerr != nil {
		return nil, oerr
	}
	return form, nil
}

// parseForm decodes a form body and refuses repeated parameters, which
// RFC 6749 §3.1 and §3.2 forbid.
func parseForm(body string) (url.Values, *oauthError) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "the request body is not valid form encoding")
	}
	if name := repeated(form); name != "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "parameter %s is given more than once", name)
	}
	if problem := oversized(form); problem != "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "%s", problem)
	}
	return form, nil
}

// parseClientAuth finds the client's credentials in the values of the
// Authorization header (client_secret_basic) or in the form
// (client_secret_post, or client_id alone for a public client).
func parseClientAuth(form url.Values, authorization []string) (clientAuth, *oauthError) {
	if len(authorization) > 1 {
		return clientAuth{}, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "the Authorization header is given more than once")
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	switch {
	case len(authorization) == 1:
		id, secret, err := parseBasicAuth(authorization[0])
		if err != nil {
			return clientAuth{}, invalidClient("%v", err)
		}
		if formSecret != "" {
			return clientAuth{}, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "the client authenticated with both HTTP Basic and client_secret; use only one method")
		}
		if formID != "" && formID != id {
			return clientAuth{}, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "client_id in the form differs from the one in the Authorization header")
		}
		return clientAuth{id, secret, directory.AuthClientSecretBasic}, nil
	case formSecret != "":
		if formID == "" {
			return clientAuth{}, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "client_secret is given without client_id")
		}
		return clientAuth{formID, formSecret, directory.AuthClientSecretPost}, nil
	case formID != "":
		return clientAuth{formID, "", directory.AuthNone}, nil
	}
	return clientAuth{}, invalidClient("client authentication is missing: use HTTP Basic with the client ID and secret, or send client_id for a public client")
}

// authenticateClient checks the client's credentials, and that it used the
// authentication method it is registered with.
func (s *Server) authenticateClient(ctx context.Context, c clientAuth) (*directory.Client, error) {
	fail := func(format string, args ...any) error {
		s.log.WarnContext(ctx, "client authentication failed", "client_id", c.ClientID, "method", c.AuthMethod)
		return invalidClient(format, args...)
	}
	client := s.directory().Client(c.ClientID)
	switch {
	case client == nil:
		return nil, fail("client_id %s is not registered", c.ClientID)
	case client.AuthMethod != c.AuthMethod:
		return nil, fail("client %s must authenticate with %s, not %s", client.ID, client.AuthMethod, c.AuthMethod)
	case c.AuthMethod != directory.AuthNone && !client.CheckSecret(c.Secret):
		return nil, fail("the client secret of %s is wrong", client.ID)
	}
	return client, nil
}
