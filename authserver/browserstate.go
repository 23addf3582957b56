package authserver

// This file holds what the server keeps in the browser between the
// authorization, login and consent requests: the sealed authorization
// request, the CSRF cookie of the login form and the login session. All of
// it is encrypted and authenticated with the cookie secrets.

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// loginSession is the content of the login-session cookie: who signed in,
// when, the CSRF token of the consent form, and the clients that got an
// authorization code in this session (to notify at logout).
type loginSession struct {
	Subject   string
	AuthTime  time.Time
	ExpiresAt time.Time
	CSRF      string
	Clients   []string
}

// sealedRequest is an authorization request carried through the login and
// consent pages, encrypted and authenticated, so that those pages need no
// server-side state and nobody can alter the request on the way.
type sealedRequest struct {
	Request   authRequest
	ExpiresAt time.Time
	// ID is new at every sealing, so each page's form has its own, which
	// claimForm makes usable once. One request can rightly pass the login
	// page twice (when the session is lost before consent), each time with
	// a fresh form.
	ID string
}

// csrfToken is the content of the CSRF cookie that protects the login form,
// shown before anyone is signed in.
type csrfToken struct {
	Token     string
	ExpiresAt time.Time
}

// readSession returns the live login session of the request, or nil.
func (s *Server) readSession(r *http.Request) *loginSession {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	var sess loginSession
	if err := securecookie.DecodeMulti(SessionCookie, c.Value, &sess, s.sessionCodecs...); err != nil {
		return nil
	}
	// A user removed from the configuration is signed out.
	if !s.now().Before(sess.ExpiresAt) || s.directory().User(sess.Subject) == nil || sess.CSRF == "" {
		return nil
	}
	if s.sessionEnded(r.Context(), &sess) {
		return nil
	}
	return &sess
}

// ensureCSRFCookie returns the token of the request's CSRF cookie, setting a
// new cookie first if there is no valid one. Reusing a valid token lets
// several sign-in tabs work at once.
func (s *Server) ensureCSRFCookie(w http.ResponseWriter, r *http.Request) (string, error) {
	if token := s.readCSRFCookie(r); token != "" {
		return token, nil
	}
	t := csrfToken{Token: newSecret(), ExpiresAt: s.now().Add(pendingRequestTTL)}
	value, err := securecookie.EncodeMulti(CSRFCookie, t, s.csrfCodecs...)
	if err != nil {
		return "", err
	}
	s.setCookie(w, CSRFCookie, value, 0)
	return t.Token, nil
}

func (s *Server) readCSRFCookie(r *http.Request) string {
	c, err := r.Cookie(CSRFCookie)
	if err != nil {
		return ""
	}
	var t csrfToken
	if securecookie.DecodeMulti(CSRFCookie, c.Value, &t, s.csrfCodecs...) != nil || !s.now().Before(t.ExpiresAt) {
		return ""
	}
	return t.Token
}

// setCookie sets one of the server's cookies. maxAge 0 makes it a browser
// session cookie.
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     s.cookiePath(),
		MaxAge:   int(maxAge / time.Second),
		Secure:   s.secure,
		HttpOnly: true,
		// Lax keeps the cookie on the top-level navigation from the client
		// to /authorize, and off cross-site form posts.
		SameSite: http.SameSiteLaxMode,
	})
}

// sealRequest encrypts req for the login and consent URLs.
func (s *Server) sealRequest(req *authRequest) (string, error) {
	return securecookie.EncodeMulti("req", sealedRequest{Request: *req, ExpiresAt: s.now().Add(pendingRequestTTL), ID: newSecret()}, s.requestCodecs...)
}

// openRequest decrypts a sealed request and checks that its client and
// redirect URI are still registered.
func (s *Server) openRequest(sealed string) (*authRequest, error) {
	sr, err := s.openSealed(sealed)
	if err != nil {
		return nil, err
	}
	return &sr.Request, nil
}

// openSealed is openRequest keeping the sealing's ID and expiry, for the
// form posts.
func (s *Server) openSealed(sealed string) (*sealedRequest, error) {
	expired := &pages.Error{Status: http.StatusBadRequest, Kind: "expired"}
	if sealed == "" {
		return nil, &pages.Error{Status: http.StatusBadRequest, Kind: "no_request"}
	}
	var sr sealedRequest
	if err := securecookie.DecodeMulti("req", sealed, &sr, s.requestCodecs...); err != nil || !s.now().Before(sr.ExpiresAt) || sr.ID == "" {
		return nil, expired
	}
	// The configuration may have changed since the request was sealed.
	if c := s.directory().Client(sr.Request.ClientID); c == nil || !slices.Contains(c.RedirectURIs, sr.Request.Target) {
		return nil, expired
	}
	return &sr, nil
}

// redirectToPage sends the browser to one of the server's pages, carrying
// the sealed request.
func (s *Server) redirectToPage(w http.ResponseWriter, r *http.Request, path string, req *authRequest) error {
	sealed, err := s.sealRequest(req)
	if err != nil {
		return err
	}
	http.Redirect(w, r, s.pageURL(path, sealed), http.StatusSeeOther)
	return nil
}

// csrfPageError refuses a form whose CSRF token does not match; retry,
// when not empty, is the page to show the form again.
func csrfPageError(retry string) *pages.Error {
	e := &pages.Error{Status: http.StatusForbidden, Kind: "csrf"}
	if retry != "" {
		e.Actions = []pages.Action{{Key: "action.try_again", URL: retry}}
	}
	return e
}

// pageURL is the address of one of the server's pages for a sealed request.
func (s *Server) pageURL(path, sealed string) string {
	return s.base + path + "?" + url.Values{"req": {sealed}}.Encode()
}
