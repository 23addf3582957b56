package proxy

import (
	"net/http"
	"time"
)

// userinfo handles /oauth2/userinfo: the current session's identity as JSON,
// for pages that want to show who is signed in.
func (p *Proxy) userinfo(w http.ResponseWriter, r *http.Request, c *compiled) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	value := p.sessionCookie(r)
	s, err := p.authenticate(w, r, value, false, true)
	if value == "" {
		s, err = p.bearerInstead(r, c.bearer, s, err)
		if p.bearerFailed(w, r, err) {
			return nil
		}
	}
	if err != nil {
		p.unauthorized(w, r, err.Error())
		return nil
	}
	groups := s.Groups
	if groups == nil {
		groups = []string{}
	}
	p.writeJSON(w, http.StatusOK, map[string]any{
		"sub":                s.Subject,
		"email":              s.Email,
		"preferred_username": s.PreferredUsername,
		"name":               s.Name,
		"groups":             groups,
		"expires_at":         s.expiry.UTC().Format(time.RFC3339),
	})
	return nil
}
