package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/storage"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// handleConsentPage asks the signed-in person whether the client may have
// the requested scopes.
func (s *Server) handleConsentPage(w http.ResponseWriter, r *http.Request) error {
	sealed := r.URL.Query().Get("req")
	req, err := s.openRequest(sealed)
	if err != nil {
		return err
	}
	sess := s.readSession(r)
	if sess == nil {
		return s.redirectToPage(w, r, PathLogin, req)
	}
	user := s.directory().User(sess.Subject)
	destination := req.Target
	if u, err := url.Parse(req.Target); err == nil && u.Host != "" {
		destination = u.Scheme + "://" + u.Host
	}
	s.ui.Render(w, r, http.StatusOK, pages.Consent, pages.ConsentData{
		Page:        s.ui.Page(w, r, req.UILocales),
		ClientName:  s.clientName(req.ClientID),
		UserName:    userName(user),
		Scopes:      req.Scopes,
		Destination: destination,
		Action:      s.base + PathConsent,
		Request:     sealed,
		CSRF:        sess.CSRF,
	})
	return nil
}

// handleConsent takes the person's decision. Approval is remembered, so the
// page is not shown again for these scopes until the consent expires.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) error {
	if err := readPageForm(w, r); err != nil {
		return err
	}
	sr, err := s.openSealed(r.PostForm.Get("req"))
	if err != nil {
		return err
	}
	req := &sr.Request
	if err := s.checkFormOrigin(r); err != nil {
		return err
	}
	sess := s.readSession(r)
	if sess == nil {
		return s.redirectToPage(w, r, PathLogin, req)
	}
	// The token lives in the login session, so only a page rendered for
	// this session can submit a decision.
	if !equalSecrets(sess.CSRF, r.PostForm.Get("csrf_token")) {
		return csrfPageError(s.pageURL(PathConsent, r.PostForm.Get("req")))
	}
	decision := r.PostForm.Get("decision")
	if decision != "approve" && decision != "deny" {
		return &pages.Error{Status: http.StatusBadRequest, Kind: "no_decision"}
	}
	// Either decision uses the form up: a replayed approval issues nothing.
	if err := s.claimForm(r.Context(), "consent", sr); err != nil {
		return err
	}
	if decision == "deny" {
		s.log.InfoContext(r.Context(), "consent denied", "client_id", req.ClientID, "user", sess.Subject)
		return s.refuse(w, r, req.fail(codeAccessDenied, "the user denied the request"))
	}
	if err := s.rememberConsent(r, req, sess); err != nil {
		return err
	}
	return s.issueCode(w, r, req, sess)
}

// rememberConsent stores the approval, adding the scopes to those already
// approved for the client.
func (s *Server) rememberConsent(r *http.Request, req *authRequest, sess *loginSession) error {
	ctx, now := r.Context(), s.now()
	scopes := req.Scopes
	prev, err := s.cfg.Store.GetConsent(ctx, sess.Subject, req.ClientID, now)
	switch {
	case err == nil:
		scopes = union(prev.Scopes, req.Scopes)
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("reading consent: %w", err)
	}
	err = s.cfg.Store.PutConsent(ctx, storage.Consent{
		Subject:   sess.Subject,
		ClientID:  req.ClientID,
		Scopes:    scopes,
		GrantedAt: now,
		ExpiresAt: now.Add(s.cfg.ConsentTTL),
	})
	if err != nil {
		return fmt.Errorf("storing consent: %w", err)
	}
	s.log.InfoContext(ctx, "consent granted", "client_id", req.ClientID, "user", sess.Subject, "scope", strings.Join(scopes, " "))
	return nil
}
