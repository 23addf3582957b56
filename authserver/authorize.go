package authserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/storage"
)

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OpenID
// Connect Core §3.1.2.1), for GET and form POST. It checks the request,
// then sends the person through login and consent as needed and finally
// back to the client with a code.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	params, err := requestParams(w, r)
	if err != nil {
		return err
	}
	req, err := parseAuthRequest(params, s.directory().Client)
	if err != nil {
		return s.refuse(w, r, err)
	}
	s.log.DebugContext(r.Context(), "authorization request accepted", "client_id", req.ClientID, "scope", strings.Join(req.Scopes, " "),
		"redirect_uri", req.RedirectURI, "pkce", req.CodeChallenge != "")
	sess := s.readSession(r)
	var hinted string
	if req.IDTokenHint != "" {
		if hinted, err = s.hintSubject(r.Context(), req); err != nil {
			s.log.InfoContext(r.Context(), "id_token_hint rejected", "client_id", req.ClientID, "error", err)
			return s.refuse(w, r, req.fail(codeInvalidRequest, "id_token_hint is not an ID token this server issued to client %s", req.ClientID))
		}
		// Used up: keep it out of the sealed request and the URLs carrying it.
		req.IDTokenHint = ""
	}
	if s.needsLogin(req, sess, hinted) {
		if req.PromptNone {
			return s.refuse(w, r, req.fail(codeLoginRequired, "the user must sign in, which prompt=none does not allow"))
		}
		// The login page continues the request itself after a successful
		// login, so prompt=login does not send the person round again.
		return s.redirectToPage(w, r, PathLogin, req)
	}
	return s.continueAuthorization(w, r, req, sess)
}

// needsLogin reports whether the person must (re-)authenticate before req
// can be answered.
func (s *Server) needsLogin(req *authRequest, sess *loginSession, hintedSubject string) bool {
	switch {
	case sess == nil, req.PromptLogin:
		return true
	case req.MaxAge == 0:
		// OpenID Connect treats max_age=0 as prompt=login; the elapsed time
		// alone could be zero and let the session through.
		return true
	case req.MaxAge > 0 && s.now().Sub(sess.AuthTime).Seconds() > float64(req.MaxAge):
		// Compared with the fraction: 60.5 s is beyond max_age=60.
		return true
	case hintedSubject != "" && hintedSubject != sess.Subject:
		return true
	}
	return false
}

// continueAuthorization answers req for a signed-in person: through the
// consent page unless a remembered consent already covers the scopes.
func (s *Server) continueAuthorization(w http.ResponseWriter, r *http.Request, req *authRequest, sess *loginSession) error {
	needConsent := req.PromptConsent
	if !needConsent {
		c, err := s.cfg.Store.GetConsent(r.Context(), sess.Subject, req.ClientID, s.now())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			needConsent = true
		case err != nil:
			return fmt.Errorf("reading consent: %w", err)
		default:
			needConsent = !coversAll(c.Scopes, req.Scopes)
		}
	}
	if needConsent {
		if req.PromptNone {
			return s.refuse(w, r, req.fail(codeConsentRequired, "the user has not approved these scopes for client %s, and prompt=none does not allow asking", req.ClientID))
		}
		return s.redirectToPage(w, r, PathConsent, req)
	}
	return s.issueCode(w, r, req, sess)
}

// issueCode stores a new authorization code for req and sends it to the
// client (RFC 6749 §4.1.2).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, sess *loginSession) error {
	code := newSecret()
	err := s.cfg.Store.CreateAuthCode(r.Context(), storage.AuthCode{
		ID:                  hashSecret(code),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		Scopes:              req.Scopes,
		Nonce:               req.Nonce,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Subject:             sess.Subject,
		AuthTime:            sess.AuthTime,
		ExpiresAt:           s.now().Add(s.cfg.AuthCodeTTL),
	})
	if err != nil {
		return fmt.Errorf("storing authorization code: %w", err)
	}
	if err := s.rememberClient(w, sess, req.ClientID); err != nil {
		return err
	}
	s.log.DebugContext(r.Context(), "authorization code issued", "client_id", req.ClientID, "user", sess.Subject, "scope", strings.Join(req.Scopes, " "))
	return s.redirectToClient(w, r, req.Target, req.State, url.Values{"code": {code}})
}

// refuse answers an authorization request that cannot go on: a
// redirectError goes back to the client, anything else becomes a page.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) error {
	var re *redirectError
	if !errors.As(err, &re) {
		return err
	}
	s.log.InfoContext(r.Context(), "authorization request refused", "error", re.code, "description", re.description)
	return s.redirectToClient(w, r, re.target, re.state, url.Values{"error": {re.code}, "error_description": {re.description}})
}

// redirectToClient sends the browser to the client's redirect URI with the
// response parameters, the state, and the issuer (RFC 9207), which lets
// clients talking to several servers tell whose response this is.
func (s *Server) redirectToClient(w http.ResponseWriter, r *http.Request, target, state string, params url.Values) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("registered redirect URI %q does not parse: %w", target, err)
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}

// fail returns an error for req that goes back to its client.
func (req *authRequest) fail(code, format string, args ...any) *redirectError {
	return &redirectError{oauthError: newOAuthError(code, http.StatusFound, format, args...), target: req.Target, state: req.State}
}

// hintSubject returns the subject of the request's id_token_hint, which
// must be an ID token this server signed for the requesting client.
func (s *Server) hintSubject(ctx context.Context, req *authRequest) (string, error) {
	hint, err := s.verifyHint(ctx, req.IDTokenHint)
	if err != nil {
		return "", err
	}
	if hint.Audience != req.ClientID {
		return "", fmt.Errorf("issued to client %s", hint.Audience)
	}
	return hint.Subject, nil
}

// coversAll reports whether every scope in want is in have.
func coversAll(have, want []string) bool {
	return len(intersect(want, have)) == len(want)
}
