package authserver

import (
	"fmt"
	"net/http"
	"net/url"
)

// Limits on end-session parameters beyond those of request.go. Client IDs
// and URIs come from the configuration, so real ones are far shorter.
const (
	maxClientIDLen  = 256
	maxURILen       = 2048
	maxUILocalesLen = 256
)

// endSessionRequest is a checked logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2). Nothing in it is trusted yet: the hint is
// verified and the redirect URI matched by the handler.
type endSessionRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
	// CSRF is set when the request is the confirmation form this server
	// showed, not a client's request.
	CSRF      string
	Confirmed bool
}

// parseEndSession checks the parameters of a logout request: none may be
// repeated or longer than its limit. ui_locales is accepted and ignored
// (pages are in English only); unknown parameters are ignored (§2).
func parseEndSession(q url.Values) (*endSessionRequest, *pageError) {
	if name := repeated(q); name != "" {
		return nil, logoutRequestPage(fmt.Sprintf("The sign-out request gives %s more than once.", name))
	}
	for _, p := range []struct {
		name string
		max  int
	}{
		{"id_token_hint", maxHintLen},
		{"client_id", maxClientIDLen},
		{"post_logout_redirect_uri", maxURILen},
		{"state", maxStateLen},
		{"ui_locales", maxUILocalesLen},
		{"csrf_token", maxTokenLen},
	} {
		if len(q.Get(p.name)) > p.max {
			return nil, logoutRequestPage(fmt.Sprintf("The sign-out request's %s is longer than %d bytes.", p.name, p.max))
		}
	}
	return &endSessionRequest{
		IDTokenHint:           q.Get("id_token_hint"),
		ClientID:              q.Get("client_id"),
		PostLogoutRedirectURI: q.Get("post_logout_redirect_uri"),
		State:                 q.Get("state"),
		CSRF:                  q.Get("csrf_token"),
		Confirmed:             q.Has("csrf_token"),
	}, nil
}

// values are the request's parameters as a client sends them.
func (req *endSessionRequest) values() url.Values {
	v := url.Values{}
	for name, value := range map[string]string{
		"id_token_hint":            req.IDTokenHint,
		"client_id":                req.ClientID,
		"post_logout_redirect_uri": req.PostLogoutRedirectURI,
		"state":                    req.State,
	} {
		if value != "" {
			v.Set(name, value)
		}
	}
	return v
}

func logoutRequestPage(message string) *pageError {
	return &pageError{
		status:  http.StatusBadRequest,
		title:   "This sign-out request can't be processed",
		message: message,
		hint:    "The application that sent you here is misconfigured; tell its developers what this page says. You have not been signed out.",
	}
}
