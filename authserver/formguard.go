package authserver

// This file holds the checks of the login and consent form posts beyond
// their CSRF tokens: that the browser says the form came from this server,
// and that each form is submitted successfully only once.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// requestParams returns the parameters of a request that may come as a
// query (GET) or as a form post of at most maxFormBytes (POST); the
// endpoint's own parser checks them.
func requestParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, formPageError(err)
	}
	return r.PostForm, nil
}

// readPageForm reads the form a page posted: at most maxFormBytes, and
// every field within its limit (see oversized).
func readPageForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return formPageError(err)
	}
	if problem := oversized(r.PostForm); problem != "" {
		return formPageError(errors.New(problem))
	}
	return nil
}

// checkFormOrigin refuses a form post that the browser says came from
// another site. Sec-Fetch-Site is set by the browser and is decisive when
// present: same-origin for the server's own forms, none for a navigation
// the person started. Otherwise Origin must be the issuer's. "null" tells
// nothing: browsers send it for pages with Referrer-Policy no-referrer,
// which ours have. Without either header (older browsers, scripts) the
// CSRF token, checked as well, is the protection.
func (s *Server) checkFormOrigin(r *http.Request) error {
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	switch {
	case site == "same-origin" || site == "none":
		return nil
	case site != "":
		return crossSitePageError("the browser says it was sent from another site (Sec-Fetch-Site: " + site + ")")
	case origin != "" && origin != "null" && !strings.EqualFold(origin, s.origin):
		return crossSitePageError("it was sent from " + origin)
	}
	return nil
}

func formPageError(err error) *pages.Error {
	return &pages.Error{Status: http.StatusBadRequest, Kind: "bad_form", Cause: err}
}

func crossSitePageError(why string) *pages.Error {
	return &pages.Error{Status: http.StatusForbidden, Kind: "cross_site", Detail: "The form was refused because " + why + "."}
}

// claimForm marks the form of the sealed request sr as used for step
// ("login" or "consent") until the request expires, on every replica. A
// second submission of the same form gets a page saying so and does
// nothing.
func (s *Server) claimForm(ctx context.Context, step string, sr *sealedRequest) error {
	err := s.cfg.Store.ClaimOnce(ctx, step+"/"+sr.ID, sr.ExpiresAt, s.now())
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return &pages.Error{Status: http.StatusConflict, Kind: "form_used"}
	case err != nil:
		return fmt.Errorf("claiming the %s form: %w", step, err)
	}
	return nil
}
