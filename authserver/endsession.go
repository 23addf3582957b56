package authserver

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// handleEndSession is the end_session_endpoint (OpenID Connect
// RP-Initiated Logout 1.0). A request tied to the signed-in person, by an
// ID token of their current login session, ends that session at once;
// any other asks the person to confirm, so that a link elsewhere cannot
// sign anyone out. Afterwards the browser goes to the registered
// post_logout_redirect_uri, with the state, or sees a signed-out page.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) error {
	params, err := requestParams(w, r)
	if err != nil {
		return err
	}
	req, perr := parseEndSession(params)
	if perr != nil {
		return perr
	}
	hint, client, err := s.checkEndSession(r.Context(), req)
	if err != nil {
		return err
	}
	confirming := r.Method == http.MethodPost && req.Confirmed
	if r.Method == http.MethodPost && !confirming {
		// A client's form post (§2 allows it). Browsers leave the SameSite=Lax
		// login-session cookie off cross-site posts, so go on as a GET,
		// which carries it.
		http.Redirect(w, r, s.base+PathEndSession+"?"+req.values().Encode(), http.StatusSeeOther)
		return nil
	}
	sess := s.readSession(r)
	switch {
	case sess == nil:
		// Nothing to end in this browser, but the client's session for the
		// hint may live on elsewhere: tell the client.
		if hint != nil && hint.SessionID != "" {
			s.backchannelLogout(r.Context(), hint.Subject, hint.SessionID, []string{hint.Audience})
		}
		return s.afterLogout(w, r, req)
	case confirming:
		if err := s.checkFormOrigin(r); err != nil {
			return err
		}
		if !equalSecrets(sess.CSRF, req.CSRF) {
			return csrfPageError("")
		}
	case !hint.ties(sess):
		s.renderLogoutConfirmation(w, r, req, sess, client)
		return nil
	}
	if err := s.endLoginSession(w, r, sess); err != nil {
		return err
	}
	return s.afterLogout(w, r, req)
}

// ties reports whether the hint names sess: the same person and, when the
// hint has a sid, the same login session.
func (h *hintClaims) ties(sess *loginSession) bool {
	return h != nil && h.Subject == sess.Subject && (h.SessionID == "" || h.SessionID == sess.sid())
}

// checkEndSession verifies the hint, finds the client (the hint's audience
// or client_id, which must agree) and checks the post-logout redirect URI
// against the client's registered ones. Any problem is a page for the
// person; nothing has changed yet.
func (s *Server) checkEndSession(ctx context.Context, req *endSessionRequest) (*hintClaims, *directory.Client, error) {
	var hint *hintClaims
	if req.IDTokenHint != "" {
		var err error
		if hint, err = s.verifyHint(ctx, req.IDTokenHint); err != nil {
			s.log.InfoContext(ctx, "id_token_hint rejected", "client_id", req.ClientID, "error", err)
			return nil, nil, logoutRequestPage("The sign-out request's id_token_hint is not an ID token this service issued, or it has been altered.")
		}
	}
	clientID := req.ClientID
	switch {
	case hint != nil && clientID != "" && hint.Audience != clientID:
		return nil, nil, logoutRequestPage(fmt.Sprintf("The id_token_hint was issued to client %s, but the request's client_id is %s.", hint.Audience, clientID))
	case hint != nil:
		clientID = hint.Audience
	}
	var client *directory.Client
	if clientID != "" {
		if client = s.directory().Client(clientID); client == nil {
			return nil, nil, logoutRequestPage(fmt.Sprintf("The application %q is not registered here (unknown client_id).", clientID))
		}
	}
	target := req.PostLogoutRedirectURI
	switch {
	case target == "":
	case client == nil:
		return nil, nil, logoutRequestPage("The sign-out request gives post_logout_redirect_uri without client_id or id_token_hint, so it cannot be checked against an application's registered addresses.")
	case !slices.Contains(client.PostLogoutRedirectURIs, target):
		registered := strings.Join(client.PostLogoutRedirectURIs, ", ")
		if registered == "" {
			registered = "none"
		}
		return nil, nil, logoutRequestPage(fmt.Sprintf("post_logout_redirect_uri %s is not registered for client %s; registered: %s.", target, client.ID, registered))
	}
	return hint, client, nil
}

// afterLogout sends the browser to the checked post-logout redirect URI
// with the state (§3), or shows that the person is signed out.
func (s *Server) afterLogout(w http.ResponseWriter, r *http.Request, req *endSessionRequest) error {
	if req.PostLogoutRedirectURI == "" {
		p := s.ui.Page(w, r, req.UILocales)
		s.ui.Render(w, r, http.StatusOK, pages.Notice, pages.NoticeData{
			Page:    p,
			Title:   p.T("signedout.title"),
			Message: p.T("signedout.authserver"),
		})
		return nil
	}
	u, err := url.Parse(req.PostLogoutRedirectURI)
	if err != nil {
		return fmt.Errorf("registered post-logout redirect URI %q does not parse: %w", req.PostLogoutRedirectURI, err)
	}
	if req.State != "" {
		q := u.Query()
		q.Set("state", req.State)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return nil
}

// renderLogoutConfirmation asks the signed-in person whether to sign out.
// The form repeats the request, which is checked again when it comes back,
// with the session's CSRF token.
func (s *Server) renderLogoutConfirmation(w http.ResponseWriter, r *http.Request, req *endSessionRequest, sess *loginSession, client *directory.Client) {
	p := s.ui.Page(w, r, req.UILocales)
	form := pages.Form{ID: "signout", Action: s.base + PathEndSession, Fields: []pages.Field{{Name: "csrf_token", Value: sess.CSRF}}, Button: p.T("signout.button")}
	params := req.values()
	for _, name := range slices.Sorted(maps.Keys(params)) {
		form.Fields = append(form.Fields, pages.Field{Name: name, Value: params.Get(name)})
	}
	data := pages.ConfirmData{
		Page:    p,
		Title:   p.T("signout.title"),
		Lead:    p.T("layout.signed_in_as", "user", userName(s.directory().User(sess.Subject))) + " " + p.T("signout.since", "date", p.Date(sess.AuthTime)),
		Message: p.T("signout.link_asks"),
		Form:    form,
	}
	if client != nil {
		data.Message = p.T("signout.client_asks", "client", client.DisplayName())
	}
	s.ui.Render(w, r, http.StatusOK, pages.Confirm, data)
}
