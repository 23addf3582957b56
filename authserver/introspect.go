package authserver

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// introspection is an introspection response (RFC 7662 §2.2). An inactive
// token gets only "active": false, which says nothing about why.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
}

// handleIntrospect is the introspection endpoint (RFC 7662). Only
// confidential clients may use it, and only about their own tokens: any
// other token is inactive to them, so the endpoint cannot be used to probe
// for tokens (§4).
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	q, client, err := s.readTokenQuery(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if client.Public() {
		return invalidClient("introspection needs a client secret, and client %s is public (token_endpoint_auth_method none); introspect from a confidential client", client.ID)
	}
	// Unknown hints are ignored: RFC 7662 §2.1 defines no error for them.
	found, err := s.findToken(ctx, q)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, s.introspect(client, found))
	return nil
}

// introspect describes found as client may see it.
func (s *Server) introspect(client *directory.Client, found foundToken) introspection {
	var out introspection
	switch {
	case found.access != nil && found.access.ClientID == client.ID:
		t := found.access
		out = introspection{Scope: strings.Join(t.Scopes, " "), TokenType: "Bearer",
			Expiry: t.ExpiresAt.Unix(), IssuedAt: t.CreatedAt.Unix(), Subject: t.Subject}
	case found.refresh != nil && found.refresh.ClientID == client.ID && found.refresh.UsedAt.IsZero():
		t := found.refresh
		out = introspection{Scope: strings.Join(t.Scopes, " "), TokenType: hintRefreshToken,
			Expiry: t.ExpiresAt.Unix(), IssuedAt: t.CreatedAt.Unix(), Subject: t.Subject}
	default:
		return introspection{}
	}
	if out.Subject == "" {
		// A token without user (client credentials) is about its client.
		out.Subject = client.ID
	} else if user := s.directory().User(out.Subject); user != nil {
		out.Username = user.ID
	} else {
		// The user was removed from the configuration: the token grants
		// nothing any more, as at the userinfo endpoint.
		return introspection{}
	}
	out.Active, out.ClientID, out.Audience, out.Issuer = true, client.ID, client.ID, s.cfg.Issuer
	return out
}
