package proxy

import (
	"net/http"
	"net/url"
)

// signOut handles /oauth2/sign_out: it ends the session (server-side too,
// with a SessionStore) and returns to rd if that is a path on this site.
func (p *Proxy) signOut(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(w, "GET, POST")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	returnTo := p.returnTarget(r, r.FormValue("rd"))
	if p.store != nil {
		value, _, _ := splitCookies(r.Header["Cookie"], p.cookieName)
		if id, err := decode(p.codecs.id, p.cookieName, value); err == nil {
			if err := p.store.Delete(r.Context(), string(id)); err != nil {
				return &pageError{
					status:   http.StatusServiceUnavailable,
					title:    "Sign-out failed",
					message:  "Your session could not be ended because the session store is unreachable; you are still signed in.",
					hint:     "Try again in a moment.",
					link:     signOutPath + "?rd=" + url.QueryEscape(returnTo),
					linkText: "Sign out",
					cause:    err,
				}
			}
		}
	}
	p.clearCookies(w, r, func(string) bool { return true })
	redirect(w, returnTo)
	return nil
}
