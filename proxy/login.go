package proxy

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Reserved paths.
const (
	reservedPrefix = "/oauth2/"
	startPath      = "/oauth2/start"
	callbackPath   = "/oauth2/callback"
	signOutPath    = "/oauth2/sign_out"
	userinfoPath   = "/oauth2/userinfo"
)

const (
	// flowTTL is how long a person has to sign in at the provider.
	flowTTL = 10 * time.Minute
	// maxFlows bounds concurrent sign-ins (one per tab) per browser.
	maxFlows = 5
	// flowNameChars of the state name a flow's cookie, enough to tell
	// concurrent flows apart.
	flowNameChars = 16
)

// flow is a sign-in in progress, kept in its own cookie between the redirect
// to the provider and the callback.
type flow struct {
	state    string
	nonce    string
	verifier string // PKCE code verifier
	returnTo string
	created  time.Time
}

func (f *flow) encode() []byte {
	b := appendString(nil, f.state)
	b = appendString(b, f.nonce)
	b = appendString(b, f.verifier)
	b = appendString(b, f.returnTo)
	return appendString(b, f.created.UTC().Format(time.RFC3339))
}

func decodeFlow(b []byte) (*flow, error) {
	d := decoder{s: string(b)}
	f := &flow{state: d.string(), nonce: d.string(), verifier: d.string(), returnTo: d.string()}
	created, err := time.Parse(time.RFC3339, d.string())
	if d.bad || d.s != "" || err != nil || f.state == "" {
		return nil, errMalformed
	}
	f.created = created
	return f, nil
}

func (p *Proxy) flowCookieName(state string) string {
	return p.cookieName + flowInfix + state[:min(len(state), flowNameChars)]
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	return base64.RawURLEncoding.EncodeToString(b)
}

// stringOrSet reads a claim that providers send either as one string or as
// an array of strings, such as groups.
type stringOrSet []string

func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = []string{v}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// start handles /oauth2/start: sign in, then return to rd.
func (p *Proxy) start(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	return p.signIn(w, r, p.returnTarget(r, r.URL.Query().Get("rd")))
}

// signIn sends the browser to the provider's authorization endpoint with a
// fresh state, nonce and PKCE challenge, remembered in a flow cookie.
func (p *Proxy) signIn(w http.ResponseWriter, r *http.Request, returnTo string) error {
	op, err := p.discovery.get(r.Context())
	if err != nil {
		return &pageError{
			status:  http.StatusServiceUnavailable,
			title:   "Sign-in is unavailable",
			message: "The sign-in service could not be reached.",
			hint:    "Wait a moment and reload this page. If it persists, the site's operator should check that " + p.cfg.Provider.IssuerURL + " is up.",
			cause:   err,
		}
	}
	f := &flow{
		state:    randomToken(),
		nonce:    randomToken(),
		verifier: oauth2.GenerateVerifier(),
		returnTo: returnTo,
		created:  p.now(),
	}
	name := p.flowCookieName(f.state)
	value, err := encode(p.codecs.flow, name, f.encode())
	if err != nil {
		return err
	}
	p.pruneFlows(w, r)
	http.SetCookie(w, p.cookie(name, value, int(flowTTL.Seconds())))
	redirect(w, op.oauth2.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	return nil
}

// pruneFlows keeps the number of flow cookies bounded: it deletes the ones
// that are unreadable or expired and, if too many remain, the oldest, so a
// new flow fits.
func (p *Proxy) pruneFlows(w http.ResponseWriter, r *http.Request) {
	prefix := p.cookieName + flowInfix
	var live []*http.Cookie
	var created []time.Time
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		f, err := p.readFlowCookie(c)
		if err != nil || p.now().Sub(f.created) > flowTTL {
			http.SetCookie(w, p.cookie(c.Name, "", -1))
			continue
		}
		live = append(live, c)
		created = append(created, f.created)
	}
	for len(live) >= maxFlows {
		oldest := 0
		for i := range created {
			if created[i].Before(created[oldest]) {
				oldest = i
			}
		}
		http.SetCookie(w, p.cookie(live[oldest].Name, "", -1))
		live = slices.Delete(live, oldest, oldest+1)
		created = slices.Delete(created, oldest, oldest+1)
	}
}

func (p *Proxy) readFlowCookie(c *http.Cookie) (*flow, error) {
	b, err := decode(p.codecs.flow, c.Name, c.Value)
	if err != nil {
		return nil, err
	}
	f, err := decodeFlow(b)
	if err != nil {
		return nil, err
	}
	// The cookie's name is derived from the state it carries; a cookie
	// renamed by hand fails the MAC above, this catches our own mistakes.
	if p.flowCookieName(f.state) != c.Name {
		return nil, errMalformed
	}
	return f, nil
}

// flowFor finds and checks the flow cookie for state.
func (p *Proxy) flowFor(r *http.Request, state string) (*flow, *pageError) {
	c, err := r.Cookie(p.flowCookieName(state))
	if err != nil {
		return nil, &pageError{
			status:  http.StatusBadRequest,
			title:   "Sign-in could not be completed",
			message: "This sign-in response does not belong to a sign-in started in this browser, or it was already used.",
			hint:    "Cookies may be blocked for this site, or the sign-in was finished in another tab. Start again.",
			cause:   fmt.Errorf("no flow cookie for state %.8s…", state),
		}
	}
	f, err := p.readFlowCookie(c)
	if err != nil {
		return nil, &pageError{
			status:  http.StatusBadRequest,
			title:   "Sign-in could not be completed",
			message: "The sign-in cookie of this browser is not valid.",
			hint:    "It may have been changed, or the site's keys were changed since. Start again.",
			cause:   fmt.Errorf("flow cookie: %w", err),
		}
	}
	if subtle.ConstantTimeCompare([]byte(f.state), []byte(state)) != 1 {
		return nil, &pageError{
			status:  http.StatusBadRequest,
			title:   "Sign-in could not be completed",
			message: "The sign-in response does not match the sign-in this browser started.",
			hint:    "Someone may have tried to sign you in to their account. Start again.",
			cause:   errors.New("state does not match the flow cookie"),
		}
	}
	if age := p.now().Sub(f.created); age > flowTTL || age < -time.Minute {
		return nil, startAgain(&pageError{
			status:  http.StatusBadRequest,
			title:   "Sign-in took too long",
			message: fmt.Sprintf("Signing in must be finished within %d minutes.", int(flowTTL.Minutes())),
			cause:   fmt.Errorf("flow is %s old", age.Round(time.Second)),
		}, f.returnTo)
	}
	return f, nil
}

// callback handles /oauth2/callback, where the provider sends the browser
// back with a code (or an error).
func (p *Proxy) callback(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	q := r.URL.Query()
	state := q.Get("state")
	if e := q.Get("error"); e != "" {
		return p.providerError(w, r, state, e, q.Get("error_description"))
	}
	code := q.Get("code")
	if state == "" || code == "" {
		return startAgain(&pageError{
			status:  http.StatusBadRequest,
			title:   "Sign-in could not be completed",
			message: "The sign-in response is missing its code or state.",
			cause:   errors.New("callback without code or state"),
		}, "/")
	}
	f, pe := p.flowFor(r, state)
	if pe != nil {
		if pe.link == "" {
			startAgain(pe, "/")
		}
		return pe
	}
	// Single use: whatever happens next, this flow is spent.
	http.SetCookie(w, p.cookie(p.flowCookieName(state), "", -1))

	s, err := p.redeem(r, f, code)
	if err != nil {
		var pe *pageError
		if errors.As(err, &pe) {
			return startAgain(pe, f.returnTo)
		}
		return err
	}
	if err := p.saveSession(w, r, s); err != nil {
		return err
	}
	p.log.InfoContext(r.Context(), "signed in", "sub", s.subject, "email", s.email)
	redirect(w, f.returnTo)
	return nil
}

// providerError explains an error the provider sent back instead of a code.
func (p *Proxy) providerError(w http.ResponseWriter, r *http.Request, state, code, description string) error {
	returnTo := "/"
	if state != "" {
		if f, pe := p.flowFor(r, state); pe == nil {
			returnTo = f.returnTo
			http.SetCookie(w, p.cookie(p.flowCookieName(state), "", -1))
		}
	}
	pe := &pageError{
		status:  http.StatusForbidden,
		title:   "Sign-in was not completed",
		message: "The sign-in service answered with an error: " + code + ".",
		cause:   fmt.Errorf("provider error %q: %s", code, description),
	}
	switch code {
	case "access_denied":
		pe.title = "You declined to sign in"
		pe.message = "Access was not granted, so the site cannot let you in."
		pe.hint = "If that was a mistake, sign in again and approve the request."
	case "login_required", "interaction_required", "consent_required":
		pe.hint = "Sign in again to continue."
	default:
		if description != "" {
			pe.hint = "It said: " + description
		}
	}
	return startAgain(pe, returnTo)
}

// errorFromProvider is a page for a provider response that could not be used.
func errorFromProvider(message string, cause error) *pageError {
	return &pageError{
		status:  http.StatusBadGateway,
		title:   "Sign-in could not be completed",
		message: message,
		hint:    "Try signing in again. If it keeps failing, the site's operator should check the provider and the proxy's client registration.",
		cause:   cause,
	}
}

// claims are the identity claims the proxy forwards, as the ID token or
// the userinfo response carry them.
type claims struct {
	Subject           string      `json:"sub"`
	Email             string      `json:"email"`
	PreferredUsername string      `json:"preferred_username"`
	Name              string      `json:"name"`
	Groups            stringOrSet `json:"groups"`
}

// redeem exchanges the code, verifies the ID token and builds the session.
func (p *Proxy) redeem(r *http.Request, f *flow, code string) (*session, error) {
	ctx := p.discovery.context(r.Context())
	op, err := p.discovery.get(ctx)
	if err != nil {
		return nil, errorFromProvider("The sign-in service could not be reached.", err)
	}
	tok, err := op.oauth2.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, &pageError{
				status:  http.StatusBadRequest,
				title:   "Sign-in could not be completed",
				message: "The sign-in service did not accept the sign-in code: it may have expired or been used already.",
				cause:   err,
			}
		}
		return nil, errorFromProvider("The sign-in service did not complete the sign-in.", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errorFromProvider("The sign-in service sent no ID token.", errors.New("token response without id_token; is the openid scope granted?"))
	}
	idt, err := op.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, errorFromProvider("The sign-in service sent an ID token that failed verification.", err)
	}
	// The nonce ties the ID token to this browser's flow (OIDC Core 3.1.3.7).
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return nil, errorFromProvider("The sign-in service sent an ID token for a different sign-in.", errors.New("ID token nonce does not match the flow"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, errorFromProvider("The sign-in service sent tokens that do not belong together.", err)
		}
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, errorFromProvider("The sign-in service sent an unreadable ID token.", err)
	}
	if op.oidc.UserInfoEndpoint() != "" && tok.AccessToken != "" {
		if err := p.addUserinfo(r, op, tok, &c); err != nil {
			return nil, err
		}
	}
	if err := c.check(); err != nil {
		return nil, errorFromProvider("The sign-in service sent an identity the proxy cannot pass on safely.", err)
	}
	s := &session{
		id:                randomToken(),
		expiry:            idt.Expiry,
		subject:           c.Subject,
		email:             c.Email,
		preferredUsername: c.PreferredUsername,
		name:              c.Name,
		groups:            p.forwardableGroups(r, c.Groups),
		tokens: tokens{
			access:       tok.AccessToken,
			refresh:      tok.RefreshToken,
			id:           raw,
			accessExpiry: tok.Expiry,
		},
	}
	if ttl := p.cfg.Cookie.SessionTTL; ttl > 0 && p.now().Add(ttl).Before(s.expiry) {
		s.expiry = p.now().Add(ttl)
	}
	return s, nil
}

// addUserinfo fills the claims the ID token left out from the userinfo
// endpoint: many providers put only the subject in the ID token when an
// access token is issued as well.
func (p *Proxy) addUserinfo(r *http.Request, op *provider, tok *oauth2.Token, c *claims) error {
	ui, err := op.oidc.UserInfo(p.discovery.context(r.Context()), oauth2.StaticTokenSource(tok))
	if err != nil {
		return errorFromProvider("The sign-in service did not return your profile.", err)
	}
	// OIDC Core 5.3.2: the userinfo response must be about the same person.
	if ui.Subject != c.Subject {
		return errorFromProvider("The sign-in service returned a profile of someone else.",
			fmt.Errorf("userinfo sub %q differs from ID token sub %q", ui.Subject, c.Subject))
	}
	var u claims
	if err := ui.Claims(&u); err != nil {
		return errorFromProvider("The sign-in service returned an unreadable profile.", err)
	}
	c.Email = cmpOr(c.Email, u.Email)
	c.PreferredUsername = cmpOr(c.PreferredUsername, u.PreferredUsername)
	c.Name = cmpOr(c.Name, u.Name)
	if len(c.Groups) == 0 {
		c.Groups = u.Groups
	}
	return nil
}

// check refuses identities that cannot travel in an HTTP header unchanged:
// quietly altering one could turn it into someone else's.
func (c *claims) check() error {
	if c.Subject == "" {
		return errors.New("ID token without sub")
	}
	for _, f := range []struct{ name, v string }{
		{"sub", c.Subject}, {"email", c.Email}, {"preferred_username", c.PreferredUsername}, {"name", c.Name},
	} {
		if !headerSafe(f.v) {
			return fmt.Errorf("claim %s contains control characters", f.name)
		}
	}
	return nil
}

// forwardableGroups drops groups that would be misread in the
// comma-separated X-Forwarded-Groups header: a group named "a,admin" must not
// become membership of "admin".
func (p *Proxy) forwardableGroups(r *http.Request, groups []string) []string {
	out := groups[:0:0]
	for _, g := range groups {
		if g == "" || strings.Contains(g, ",") || !headerSafe(g) || strings.TrimSpace(g) != g {
			p.log.WarnContext(r.Context(), "group not forwarded: it cannot be represented in X-Forwarded-Groups", "group", g)
			continue
		}
		out = append(out, g)
	}
	return out
}

func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

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

// userinfo handles /oauth2/userinfo: the current session's identity as JSON,
// for pages that want to show who is signed in.
func (p *Proxy) userinfo(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	value, _, _ := splitCookies(r.Header["Cookie"], p.cookieName)
	s, err := p.loadSession(r.Context(), value)
	if err != nil {
		p.unauthorized(w, r, err.Error())
		return nil
	}
	groups := s.groups
	if groups == nil {
		groups = []string{}
	}
	writeJSON(r.Context(), p.log, w, http.StatusOK, map[string]any{
		"sub":                s.subject,
		"email":              s.email,
		"preferred_username": s.preferredUsername,
		"name":               s.name,
		"groups":             groups,
		"expires_at":         s.expiry.UTC().Format(time.RFC3339),
	})
	return nil
}

// returnTarget is rd if it is safe to redirect to, and "/" otherwise.
func (p *Proxy) returnTarget(r *http.Request, rd string) string {
	if rd == "" {
		return "/"
	}
	if !safeReturn(rd) {
		p.log.InfoContext(r.Context(), "ignoring unsafe return target", "rd", rd)
		return "/"
	}
	return rd
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return &pageError{
		status:  http.StatusMethodNotAllowed,
		title:   "Method not allowed",
		message: "This address only answers " + allow + " requests.",
	}
}
