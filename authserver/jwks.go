package authserver

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// handleKeys publishes the public signing keys as a JWK Set (RFC 7517 §5)
// at the jwks_uri.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) error {
	set, err := s.keys.PublicKeys(r.Context())
	if err != nil {
		return err
	}
	// Clients refetch when they meet an unknown kid, so a short cache time
	// only bounds how long a dropped key lingers in their caches.
	w.Header().Set("Cache-Control", "public, max-age=60")
	httpx.WriteJSON(w, http.StatusOK, set)
	return nil
}
