package proxy

import (
	"net/http"
	"time"
)

// userinfo handles /oauth2/userinfo: the current session's identity as JSON,
// for pages that want to show who is signed in.
func (p *Proxy) userinfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	value, _, _ := splitCookies(r.Header["Cookie"], p.cookieName)
	s, err := p.loadSession(r.Context(), value)
	if err != nil {
		s, err = p.loadShadowedSession(r.Context(), r.Header["Cookie"], value, err)
	}
	if err != nil {
		p.unauthorized(w, r, err.Error())
		return nil
	}
	groups := s.groups
	if groups == nil {
		groups = []string{}
	}
	p.writeJSON(w, r, http.StatusOK, map[string]any{
		"sub":                s.subject,
		"email":              s.email,
		"preferred_username": s.preferredUsername,
		"name":               s.name,
		"groups":             groups,
		"expires_at":         s.expiry.UTC().Format(time.RFC3339),
	})
	return nil
}
