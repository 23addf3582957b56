package proxy

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// signedOutPath is where the provider's logout sends the browser back: its
// URL under PublicURL is the post_logout_redirect_uri to register.
const signedOutPath = "/oauth2/signed_out"

// signOut handles /oauth2/sign_out. A GET shows a form asking to confirm,
// so that a link or image elsewhere cannot sign anyone out; its POST,
// checked against the form's token, ends the session server-side, clears
// every cookie of the proxy and, when the provider has a logout endpoint,
// sends the browser there to end the provider's login too. The browser
// then returns to rd, or to a page saying it is signed out.
func (p *Proxy) signOut(w http.ResponseWriter, r *http.Request, c *compiled) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.confirmSignOut(w, r, r.URL.Query().Get("rd"), false)
		return nil
	case http.MethodPost:
	default:
		return methodNotAllowed(w, "GET, HEAD, POST")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return &pages.Error{Status: http.StatusBadRequest, Kind: "bad_signout", Cause: err}
	}
	rd := r.PostFormValue("rd")
	if why := p.signOutRefused(r); why != "" {
		p.log.InfoContext(r.Context(), "sign-out not confirmed", "reason", why)
		p.confirmSignOut(w, r, rd, true)
		return nil
	}
	returnTo := p.returnTarget(r, c, rd)
	s, err := p.endSession(w, r)
	if err != nil {
		return &pages.Error{
			Status:  http.StatusServiceUnavailable,
			Kind:    "signout_failed",
			Actions: []pages.Action{{Key: "action.sign_out", URL: signOutPath + "?rd=" + url.QueryEscape(returnTo)}},
			Cause:   err,
		}
	}
	if s != nil {
		p.log.InfoContext(r.Context(), "signed out", "user", s.Subject)
	}
	if logout := p.providerLogout(r, s, rd); logout != "" {
		redirect(w, logout)
		return nil
	}
	if rd == "" {
		returnTo = signedOutPath
	}
	redirect(w, returnTo)
	return nil
}

// signOutRefused says why a sign-out POST is not the proxy's own form
// submitted by this browser, or "" when it is.
func (p *Proxy) signOutRefused(r *http.Request) string {
	// Browsers say where a form came from; a page elsewhere cannot post
	// here in the browser's name (and its token would not match anyway).
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "the form was sent from another site"
	}
	// "null" tells nothing: browsers send it for a page with
	// Referrer-Policy no-referrer, which the proxy's own pages have.
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" && origin != p.cfg.PublicURL.Scheme+"://"+r.Host {
		return "the form was sent from " + origin
	}
	got, err := decode(p.codecs.signOut, signOutTokenName, r.PostFormValue("token"))
	if want := p.sessionDigest(r); err != nil || subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return "the form is out of date or not from this browser"
	}
	return ""
}

const signOutTokenName = "sign-out-token"

// signOutToken is the sign-out form's token for r's session: the digest
// of the session cookie's value, authenticated and encrypted under the
// sign-out key. It needs no state, a page elsewhere cannot make one, and
// it stops working when the session cookie changes.
func (p *Proxy) signOutToken(r *http.Request) string {
	sum := p.sessionDigest(r)
	token, err := encode(p.codecs.signOut, signOutTokenName, sum[:])
	if err != nil {
		p.log.ErrorContext(r.Context(), "making the sign-out token", "error", err)
	}
	return token
}

func (p *Proxy) sessionDigest(r *http.Request) [sha256.Size]byte {
	return sha256.Sum256([]byte(p.sessionCookie(r)))
}

// confirmSignOut shows the form that posts a sign-out; again says that an
// earlier post was refused.
func (p *Proxy) confirmSignOut(w http.ResponseWriter, r *http.Request, rd string, again bool) {
	pg := p.ui.Page(w, r)
	data := pages.ConfirmData{
		Page:    pg,
		Title:   pg.T("signout.title"),
		Message: pg.T("signout.proxy_asks"),
		Form: pages.Form{
			ID:     "signout",
			Action: signOutPath,
			Fields: []pages.Field{{Name: "token", Value: p.signOutToken(r)}, {Name: "rd", Value: rd}},
			Button: pg.T("signout.button"),
		},
	}
	if s, err := p.readSession(r.Context(), p.sessionCookie(r)); err == nil && s != nil {
		data.Lead = pg.T("layout.signed_in_as", "user", cmp.Or(s.PreferredUsername, s.Email, s.Subject))
	}
	status := http.StatusOK
	if again {
		data.Alert, status = pg.T("signout.not_confirmed"), http.StatusForbidden
	}
	p.ui.Render(w, r, status, pages.Confirm, data)
}

// providerLogout is the URL of the provider's logout for the session
// that just ended, or "" when there is none to visit: RP-Initiated Logout
// with the ID token as the hint, coming back to signedOutPath with rd kept
// in the state.
func (p *Proxy) providerLogout(r *http.Request, s *session, rd string) string {
	if p.cfg.Provider.SkipLogout {
		return ""
	}
	op, err := p.discovery.get(p.discovery.context(r.Context()))
	if err != nil {
		p.log.WarnContext(r.Context(), "signed out here only: the provider is unreachable", "error", err)
		return ""
	}
	if op.endSession == "" {
		return ""
	}
	u, err := url.Parse(op.endSession)
	if err != nil {
		p.log.WarnContext(r.Context(), "signed out here only: the provider's end_session_endpoint is not a URL", "error", err)
		return ""
	}
	q := u.Query()
	q.Set("client_id", p.cfg.Provider.ClientID)
	q.Set("post_logout_redirect_uri", strings.TrimSuffix(p.cfg.PublicURL.String(), "/")+signedOutPath)
	if s != nil && s.tokens.id != "" {
		q.Set("id_token_hint", s.tokens.id)
	}
	if rd != "" {
		if state, err := encode(p.codecs.signOut, "logout-state", []byte(rd)); err == nil {
			q.Set("state", state)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// signedOut handles signedOutPath, where the provider's logout returns:
// on to rd, when the sign-out named one, or a page saying so.
func (p *Proxy) signedOut(w http.ResponseWriter, r *http.Request, c *compiled) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	if state := r.URL.Query().Get("state"); state != "" {
		rd, err := decode(p.codecs.signOut, "logout-state", state)
		if err == nil {
			redirect(w, p.returnTarget(r, c, string(rd)))
			return nil
		}
		p.log.InfoContext(r.Context(), "ignoring a logout state that does not decode", "error", err)
	}
	pg := p.ui.Page(w, r)
	p.ui.Render(w, r, http.StatusOK, pages.Notice, pages.NoticeData{
		Page:    pg,
		Title:   pg.T("signedout.title"),
		Message: pg.T("signedout.proxy"),
		Actions: []pages.Link{{Text: pg.T("action.sign_in_again"), URL: startPath}},
	})
	return nil
}
