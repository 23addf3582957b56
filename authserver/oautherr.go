package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// OAuth 2.0 and OpenID Connect error codes (RFC 6749 §4.1.2.1 and §5.2,
// RFC 6750 §3.1, RFC 7009 §2.2.1, OpenID Connect Core §3.1.2.6).
const (
	codeInvalidRequest           = "invalid_request"
	codeInvalidClient            = "invalid_client"
	codeInvalidGrant             = "invalid_grant"
	codeUnauthorizedClient       = "unauthorized_client"
	codeUnsupportedGrantType     = "unsupported_grant_type"
	codeUnsupportedResponseType  = "unsupported_response_type"
	codeInvalidScope             = "invalid_scope"
	codeAccessDenied             = "access_denied"
	codeServerError              = "server_error"
	codeInvalidToken             = "invalid_token"
	codeInsufficientScope        = "insufficient_scope"
	codeLoginRequired            = "login_required"
	codeConsentRequired          = "consent_required"
	codeRequestNotSupported      = "request_not_supported"
	codeRequestURINotSupported   = "request_uri_not_supported"
	codeRegistrationNotSupported = "registration_not_supported"
	codeUnsupportedTokenType     = "unsupported_token_type" // RFC 7009 §2.2.1
)

// oauthError is an error answered with an OAuth error code: as JSON by the
// token and resource endpoints, or as redirect parameters by the
// authorization endpoint.
type oauthError struct {
	code        string
	description string // what went wrong, for the client's developer
	status      int
	// challenge, when set, is the WWW-Authenticate header to send.
	challenge string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

// newOAuthError returns an error with the code, HTTP status and a
// description made from format and args.
func newOAuthError(code string, status int, format string, args ...any) *oauthError {
	return &oauthError{code: code, status: status, description: safeDescription(fmt.Sprintf(format, args...))}
}

// safeDescription keeps only the characters RFC 6749 allows in
// error_description (%x20-21 / %x23-5B / %x5D-7E), turning double quotes
// into single ones, so the text is also safe inside a quoted header value.
func safeDescription(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// redirectError is an authorization-endpoint error sent back to the client
// at target. Only errors found after the redirect URI was checked are of
// this kind; earlier ones are *pages.Errors, so nothing is ever redirected to
// an unverified address.
type redirectError struct {
	*oauthError
	target string
	state  string
}

// html adapts h so that its errors are rendered as HTML pages.
func (s *Server) html(h httpx.HandlerFunc) http.Handler { return httpx.Handle(h, s.writePageError) }

// api adapts h so that its errors are written as OAuth error JSON.
func (s *Server) api(h httpx.HandlerFunc) http.Handler { return httpx.Handle(h, s.writeOAuthError) }

// writeOAuthError writes err as an RFC 6749 §5.2 error response. Errors that
// are not oauthErrors are internal: they are logged and answered with a
// generic server_error.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		s.log.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "err", err)
		oe = newOAuthError(codeServerError, http.StatusInternalServerError, "the server could not complete the request; try again later")
	} else {
		s.log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "error", oe.code, "description", oe.description)
	}
	h := w.Header()
	if oe.challenge != "" {
		h.Set("WWW-Authenticate", oe.challenge)
	}
	// Set here, not left to WriteJSON: an error must not inherit the
	// caching a handler chose for its success.
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	httpx.WriteJSON(w, oe.status, struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description,omitempty"`
	}{oe.code, oe.description})
}

// writePageError renders err as an error page. Errors that are not
// *pages.Errors are internal: they are logged and shown as a generic page.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	pe, ok := errors.AsType[*pages.Error](err)
	if !ok {
		pe = &pages.Error{Status: http.StatusInternalServerError, Kind: "internal", Cause: err}
	}
	// An authorization or logout request that fails before it is
	// understood may still say which language the person reads.
	p := s.ui.Page(w, r, r.URL.Query().Get("ui_locales"))
	if pe.Status >= 500 {
		s.log.ErrorContext(r.Context(), "internal error", "path", r.URL.Path, "request_id", p.RequestID, "err", pe)
	} else {
		s.log.InfoContext(r.Context(), "request refused", "path", r.URL.Path, "status", pe.Status, "request_id", p.RequestID, "error", pe)
	}
	s.ui.RenderError(w, r, p, pe)
}
