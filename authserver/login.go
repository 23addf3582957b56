package authserver

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/authserver/directory"
)

// handleLoginPage shows the login form for a pending authorization request.
func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	sealed := r.URL.Query().Get("req")
	req, err := s.openRequest(sealed)
	if err != nil {
		return err
	}
	token, err := s.ensureCSRFCookie(w, r)
	if err != nil {
		return err
	}
	s.renderLogin(w, http.StatusOK, req, sealed, token, req.LoginHint, "")
	return nil
}

// handleLogin checks the submitted user ID and password and, when they
// match, starts a login session and continues the authorization request.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if err := readPageForm(w, r); err != nil {
		return err
	}
	sealed := r.PostForm.Get("req")
	sr, err := s.openSealed(sealed)
	if err != nil {
		return err
	}
	req := &sr.Request
	if err := s.checkFormOrigin(r); err != nil {
		return err
	}
	cookieToken := s.readCSRFCookie(r)
	if cookieToken == "" || !equalSecrets(cookieToken, r.PostForm.Get("csrf_token")) {
		return csrfPageError()
	}
	userID := r.PostForm.Get("user_id")
	// Throttled by what was typed, not by who it names, so that no answer
	// depends on whether the user exists.
	account, address, now := directory.CanonicalID(userID), clientAddress(r.RemoteAddr), s.now()
	if t := s.throttle.begin(account, address, now); t != nil {
		s.log.WarnContext(r.Context(), "login throttled", "client_id", req.ClientID, "address", address, "locked", t.locked)
		w.Header().Set("Retry-After", strconv.Itoa(int(t.wait.Round(time.Second)/time.Second)))
		s.renderLogin(w, http.StatusTooManyRequests, req, sealed, cookieToken, userID, throttledMessage(t))
		return nil
	}
	user, err := s.authenticate(r.Context(), userID, r.PostForm.Get("password"))
	if err != nil {
		s.throttle.abandoned(account, address, now)
		return err
	}
	if user == nil {
		// The attempted user ID is not logged: people sometimes type their
		// password into it.
		s.log.WarnContext(r.Context(), "login failed", "client_id", req.ClientID, "address", address)
		// One message for unknown user and wrong password, so the form does
		// not reveal which user IDs exist.
		s.renderLogin(w, http.StatusUnauthorized, req, sealed, cookieToken, userID, "The user ID or password is incorrect. Check them and try again.")
		return nil
	}
	s.throttle.succeeded(account, address, now)
	if err := s.claimForm(r.Context(), "login", sr); err != nil {
		return err
	}
	sess := &loginSession{Subject: user.ID, AuthTime: now, ExpiresAt: now.Add(s.cfg.LoginSessionTTL), CSRF: newSecret()}
	value, err := securecookie.EncodeMulti(SessionCookie, sess, s.sessionCodecs...)
	if err != nil {
		return err
	}
	s.setCookie(w, SessionCookie, value, s.cfg.LoginSessionTTL)
	s.log.InfoContext(r.Context(), "login succeeded", "user", user.ID, "client_id", req.ClientID)
	return s.continueAuthorization(w, r, req, sess)
}

// throttledMessage says how long to wait. It is the same whether or not the
// user ID exists, and does not say whether the account or the address hit
// the limit.
func throttledMessage(t *throttled) string {
	n, unit := int((t.wait+time.Second-1)/time.Second), "second"
	if t.wait > 2*time.Minute {
		n, unit = int((t.wait+time.Minute-1)/time.Minute), "minute"
	}
	wait := fmt.Sprintf("%d %s", n, unit)
	if n != 1 {
		wait += "s"
	}
	if t.locked {
		return "There have been too many failed sign-ins with this user ID or from your network, so signing in is paused. Try again in " + wait + "."
	}
	return "There have been several failed sign-ins with this user ID or from your network. Wait " + wait + ", then try again."
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, req *authRequest, sealed, csrf, userID, message string) {
	s.render(w, status, s.tmpl.login, loginPage{
		page:       s.page("Sign in"),
		ClientName: s.clientName(req.ClientID),
		Action:     s.base + PathLogin,
		Request:    sealed,
		CSRF:       csrf,
		UserID:     userID,
		Error:      message,
	})
}

// clientName is how the client is named on pages.
func (s *Server) clientName(clientID string) string {
	if c := s.cfg.Directory.Client(clientID); c != nil {
		return c.DisplayName()
	}
	return clientID
}

// userName is how a user is named on pages.
func userName(u *directory.User) string {
	if u.Name != "" {
		return u.Name + " (" + u.ID + ")"
	}
	return u.ID
}
