package authserver

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// endSessionRequest is a checked logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2). Nothing in it is trusted yet: the hint is
// verified and the redirect URI matched by the handler.
type endSessionRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
	UILocales             string
	// CSRF is set when the request is the confirmation form this server
	// showed, not a client's request.
	CSRF      string
	Confirmed bool
}

// parseEndSession checks the parameters of a logout request: none may be
// repeated or longer than its limit (see oversized). ui_locales picks the
// pages' language; unknown parameters are ignored (§2).
func parseEndSession(q url.Values) (*endSessionRequest, *pages.Error) {
	if name := repeated(q); name != "" {
		return nil, logoutRequestPage(fmt.Sprintf("The sign-out request gives %s more than once.", name))
	}
	if problem := oversized(q); problem != "" {
		return nil, logoutRequestPage("The sign-out request is not valid: " + problem + ".")
	}
	return &endSessionRequest{
		IDTokenHint:           q.Get("id_token_hint"),
		ClientID:              q.Get("client_id"),
		PostLogoutRedirectURI: q.Get("post_logout_redirect_uri"),
		State:                 q.Get("state"),
		UILocales:             q.Get("ui_locales"),
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
		"ui_locales":               req.UILocales,
	} {
		if value != "" {
			v.Set(name, value)
		}
	}
	return v
}

func logoutRequestPage(detail string) *pages.Error {
	return &pages.Error{Status: http.StatusBadRequest, Kind: "bad_logout", Code: codeInvalidRequest, Detail: detail}
}
