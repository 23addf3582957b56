package authserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
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
	s.renderLogin(w, r, http.StatusOK, req, sealed, token, req.LoginHint, nil)
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
		return csrfPageError(s.pageURL(PathLogin, sealed))
	}
	userID := r.PostForm.Get("user_id")
	// Throttled by what was typed, not by who it names, so that no answer
	// depends on whether the user exists.
	account, address, now := directory.CanonicalID(userID), clientAddress(r.RemoteAddr), s.now()
	if t := s.throttle.begin(account, address, now); t != nil {
		s.metrics.signIn(t.outcome())
		s.log.InfoContext(r.Context(), "login throttled", s.attempted(userID, "client_id", req.ClientID, "address", address, "locked", t.locked, "wait", t.wait)...)
		w.Header().Set("Retry-After", strconv.Itoa(int(t.wait.Round(time.Second)/time.Second)))
		s.renderLogin(w, r, http.StatusTooManyRequests, req, sealed, cookieToken, userID, t.message)
		return nil
	}
	user, err := s.authenticate(r.Context(), userID, r.PostForm.Get("password"))
	if err != nil {
		s.throttle.abandoned(account, address, now)
		s.metrics.signIn(signInError)
		return err
	}
	if user == nil {
		s.metrics.signIn(signInIncorrect)
		s.log.InfoContext(r.Context(), "login failed", s.attempted(userID, "client_id", req.ClientID, "address", address)...)
		// One message for unknown user and wrong password, so the form does
		// not reveal which user IDs exist.
		s.renderLogin(w, r, http.StatusUnauthorized, req, sealed, cookieToken, userID, incorrect)
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
	s.metrics.signIn(signInSuccess)
	httpx.RecordOf(r.Context()).SetUser(user.ID)
	s.log.InfoContext(r.Context(), "login succeeded", "user", user.ID, "client_id", req.ClientID)
	return s.continueAuthorization(w, r, req, sess)
}

// attempted adds to the attributes args of a failed or throttled login who
// attempted it: the user when the typed ID names one. What was typed is
// not logged otherwise, since people sometimes type their password into it.
func (s *Server) attempted(typed string, args ...any) []any {
	if u := s.cfg.Directory.Login(typed); u != nil {
		return append(args, "user", u.ID, "reason", "wrong password")
	}
	return append(args, "reason", "unknown user")
}

// message says how long to wait. It is the same whether or not the user
// ID exists, and does not say whether the account or the address hit the
// limit.
func (t *throttled) message(p pages.Page) string {
	if t.locked {
		return p.T("login.paused", "wait", p.Duration(t.wait))
	}
	return p.T("login.slowed", "wait", p.Duration(t.wait))
}

// incorrect is the one message for an unknown user and a wrong password.
func incorrect(p pages.Page) string { return p.T("login.incorrect") }

// renderLogin shows the login form, with the problem of the last attempt
// when there was one.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, req *authRequest, sealed, csrf, userID string, problem func(pages.Page) string) {
	p := s.ui.Page(w, r, req.UILocales)
	data := pages.LoginData{
		Page:       p,
		ClientName: s.clientName(req.ClientID),
		Action:     s.base + PathLogin,
		Request:    sealed,
		CSRF:       csrf,
		UserID:     userID,
	}
	if problem != nil {
		data.Error = problem(p)
	}
	s.ui.Render(w, r, status, pages.Login, data)
}

// clientName is how the client is named on pages.
func (s *Server) clientName(clientID string) string {
	if c := s.directory().Client(clientID); c != nil {
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
