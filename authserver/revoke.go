package authserver

import (
	"fmt"
	"net/http"
)

// handleRevoke is the revocation endpoint (RFC 7009). A client may revoke
// only its own tokens; for any other token, known or not, the answer is the
// same 200 and nothing changes, so the endpoint tells nobody whether a
// token exists (§2.2).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	q, client, err := s.readTokenQuery(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if q.Hint != "" && !knownHint(q.Hint) {
		return newOAuthError(codeUnsupportedTokenType, http.StatusBadRequest,
			"token_type_hint %s is not supported; use %s or %s, or leave it out", q.Hint, hintAccessToken, hintRefreshToken)
	}
	found, err := s.findToken(ctx, q)
	if err != nil {
		return err
	}
	switch {
	case found.refresh != nil && found.refresh.ClientID == client.ID:
		// A refresh token stands for its grant, used ones included, so the
		// whole family goes (RFC 7009 §2.1 allows it; RFC 9700 §4.14.2
		// wants it).
		if err := s.cfg.Store.RevokeFamily(ctx, found.refresh.FamilyID, s.revokeUntil()); err != nil {
			return fmt.Errorf("revoking refresh token family: %w", err)
		}
		s.log.InfoContext(ctx, "refresh token revoked with every token of its grant", "client_id", client.ID, "user", found.refresh.Subject)
	case found.access != nil && found.access.ClientID == client.ID:
		if err := s.cfg.Store.DeleteAccessToken(ctx, found.access.ID); err != nil {
			return fmt.Errorf("revoking access token: %w", err)
		}
		s.log.InfoContext(ctx, "access token revoked", "client_id", client.ID, "user", found.access.Subject)
	case found.refresh != nil || found.access != nil:
		s.log.WarnContext(ctx, "client tried to revoke a token of another client; nothing revoked", "client_id", client.ID)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
