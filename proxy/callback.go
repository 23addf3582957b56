package proxy

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

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
		return startAgain(&pages.Error{Status: http.StatusBadRequest, Kind: "callback_incomplete", Code: "invalid_request",
			Cause: errors.New("callback without code or state")}, "/")
	}
	f, pe := p.flowFor(r, state)
	if pe != nil {
		if len(pe.Actions) == 0 {
			startAgain(pe, "/")
		}
		return pe
	}
	// Single use: whatever happens next, this flow is spent.
	http.SetCookie(w, p.cookie(p.flowCookieName(state), "", -1))

	s, err := p.redeem(r, f, code)
	if err != nil {
		if pe, ok := errors.AsType[*pages.Error](err); ok {
			return startAgain(pe, f.returnTo)
		}
		return err
	}
	if err := p.saveSession(w, r, s); err != nil {
		return err
	}
	p.log.InfoContext(r.Context(), "signed in", "user", s.Subject, "email", s.Email)
	redirect(w, f.returnTo)
	return nil
}

// providerError explains an error the provider sent back instead of a
// code. Anyone can craft a callback URL, so the page names only error codes
// the specifications define and never shows error_description, which only
// the log sees.
func (p *Proxy) providerError(w http.ResponseWriter, r *http.Request, state, code, description string) error {
	returnTo := "/"
	if state != "" {
		if f, pe := p.flowFor(r, state); pe == nil {
			returnTo = f.returnTo
			http.SetCookie(w, p.cookie(p.flowCookieName(state), "", -1))
		}
	}
	pe := &pages.Error{
		Status: http.StatusForbidden,
		Kind:   "provider_refused",
		Cause:  fmt.Errorf("provider error %.100q: %.300q", code, description),
	}
	switch code {
	case "access_denied":
		pe.Kind = "declined"
	case "server_error", "temporarily_unavailable":
		pe.Status, pe.Kind = http.StatusBadGateway, "provider_trouble"
	case "invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope",
		"invalid_request_uri", "invalid_request_object", "request_not_supported", "request_uri_not_supported":
		pe.Kind = "provider_rejected"
	}
	// Only codes the specifications define reach the page.
	if knownProviderErrors[code] {
		pe.Code = code
	}
	return startAgain(pe, returnTo)
}

// knownProviderErrors are the error codes of RFC 6749 section 4.1.2.1
// and OpenID Connect Core section 3.1.2.6.
var knownProviderErrors = map[string]bool{
	"access_denied": true, "login_required": true, "interaction_required": true, "consent_required": true,
	"account_selection_required": true, "server_error": true, "temporarily_unavailable": true,
	"invalid_request": true, "unauthorized_client": true, "unsupported_response_type": true, "invalid_scope": true,
	"invalid_request_uri": true, "invalid_request_object": true, "request_not_supported": true,
	"request_uri_not_supported": true, "registration_not_supported": true,
}

// errorFromProvider is a page for a provider response that could not be
// used; detail says for administrators what was wrong with it.
func errorFromProvider(detail string, cause error) *pages.Error {
	return &pages.Error{Status: http.StatusBadGateway, Kind: "provider_answer", Detail: detail, Cause: cause}
}

// claims are the identity claims the proxy forwards, as the ID token, the
// userinfo response or a bearer token carry them.
type claims struct {
	Subject           string      `json:"sub"`
	Email             string      `json:"email"`
	PreferredUsername string      `json:"preferred_username"`
	Name              string      `json:"name"`
	Groups            stringOrSet `json:"groups"`
	// EmailVerified is nil when the provider does not say.
	EmailVerified *boolOrString `json:"email_verified"`
	// extra holds the further claims that policies and headers read.
	extra map[string][]string
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
		err = redactTokenError(err, code, f.verifier, p.cfg.Provider.ClientSecret)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, &pages.Error{Status: http.StatusBadRequest, Kind: "code_refused", Code: "invalid_grant", Cause: err}
		}
		return nil, errorFromProvider("The sign-in service did not complete the sign-in.", err)
	}
	p.log.DebugContext(ctx, "code exchanged", "refresh_token", tok.RefreshToken != "", "expires_in", tok.ExpiresIn)
	who, err := p.identify(r.WithContext(ctx), op, tok, f.nonce, nil)
	if err != nil {
		return nil, err
	}
	t := tokens{access: tok.AccessToken, refresh: tok.RefreshToken, id: who.idToken, accessExpiry: p.accessExpiry(tok)}
	return p.newSession(who, t, p.keep(op)), nil
}

// errAnotherPerson is a refresh whose tokens name someone else.
var errAnotherPerson = errors.New("the provider's renewed tokens name another person")

// identified is what the provider's tokens say about the person.
type identified struct {
	policy.Identity
	// renewAt is when the tokens expire.
	renewAt time.Time
	// idToken is the raw ID token; empty when a refresh brought none.
	idToken string
	// sid is the ID token's sid; empty when it has none.
	sid string
}

// identify verifies the ID token of tok and reads the person's identity
// from it and from userinfo. At sign-in (prev nil) the ID token is
// required and must carry nonce. At a refresh the provider may leave it
// out, and both ID token and userinfo must name prev's subject; with
// neither, prev's identity stays as it is.
func (p *Proxy) identify(r *http.Request, op *provider, tok *oauth2.Token, nonce string, prev *session) (identified, error) {
	var c claims
	who := identified{renewAt: p.accessExpiry(tok)}
	who.idToken, _ = tok.Extra("id_token").(string)
	switch {
	case who.idToken != "":
		idt, err := op.verifier.Verify(r.Context(), who.idToken)
		if err != nil {
			return identified{}, errorFromProvider("The sign-in service sent an ID token that failed verification.", err)
		}
		// The nonce ties the ID token to this browser's flow (OIDC Core
		// 3.1.3.7); a refreshed ID token need not carry one (12.2).
		if prev == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
			return identified{}, errorFromProvider("The sign-in service sent an ID token for a different sign-in.", errors.New("ID token nonce does not match the flow"))
		}
		if idt.AccessTokenHash != "" {
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				return identified{}, errorFromProvider("The sign-in service sent tokens that do not belong together.", err)
			}
		}
		var sid struct {
			SID string `json:"sid"`
		}
		if err := errors.Join(idt.Claims(&c), idt.Claims(&sid), p.readExtraClaims(r, idt.Claims, &c)); err != nil {
			return identified{}, errorFromProvider("The sign-in service sent an unreadable ID token.", err)
		}
		who.sid = sid.SID
		p.log.DebugContext(r.Context(), "ID token verified", "user", c.Subject, "refresh", prev != nil, "expires", idt.Expiry)
		if who.renewAt.IsZero() || idt.Expiry.Before(who.renewAt) {
			who.renewAt = idt.Expiry
		}
	case prev == nil:
		return identified{}, errorFromProvider("The sign-in service sent no ID token.", errors.New("token response without id_token; is the openid scope granted?"))
	default:
		c.Subject = prev.Subject
	}
	if prev != nil && c.Subject != prev.Subject {
		return identified{}, fmt.Errorf("%w: sub %q, was %q", errAnotherPerson, c.Subject, prev.Subject)
	}
	if who.renewAt.IsZero() {
		// Neither expires_in nor an ID token: check back soon.
		who.renewAt = p.now().Add(unknownTokenLifetime)
	}
	switch {
	case op.oidc.UserInfoEndpoint() != "" && tok.AccessToken != "":
		if err := p.addUserinfo(r, op, tok, &c); err != nil {
			return identified{}, err
		}
	case who.idToken == "":
		who.Identity = prev.Identity
		return who, nil
	}
	if err := c.check(); err != nil {
		return identified{}, errorFromProvider("The sign-in service sent an identity the proxy cannot pass on safely.", err)
	}
	who.Identity = p.identityOf(r, &c)
	return who, nil
}

// accessExpiry is when tok's access token expires by the proxy's clock:
// x/oauth2 reckons expires_in from the wall clock.
func (p *Proxy) accessExpiry(tok *oauth2.Token) time.Time {
	if tok.ExpiresIn > 0 {
		return p.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}

// unknownTokenLifetime is how long tokens that do not say are trusted.
const unknownTokenLifetime = 5 * time.Minute

// identityOf is the identity that checked claims describe, whether they
// came from sign-in or from a bearer token: both must give policies the
// same person.
func (p *Proxy) identityOf(r *http.Request, c *claims) policy.Identity {
	return policy.Identity{
		Subject:           c.Subject,
		Email:             c.Email,
		EmailVerified:     c.EmailVerified != nil && bool(*c.EmailVerified) || p.cfg.Provider.InsecureAssumeEmailVerified,
		PreferredUsername: c.PreferredUsername,
		Name:              c.Name,
		Groups:            p.forwardable(r, "groups", c.Groups),
		Claims:            c.extra,
	}
}

// addUserinfo fills the claims the ID token left out from the userinfo
// endpoint: many providers put only the subject in the ID token when an
// access token is issued as well.
func (p *Proxy) addUserinfo(r *http.Request, op *provider, tok *oauth2.Token, c *claims) error {
	ui, err := op.oidc.UserInfo(p.discovery.context(r.Context()), oauth2.StaticTokenSource(tok))
	if err != nil {
		// go-oidc quotes the answer's body, which may repeat the token.
		return errorFromProvider("The sign-in service did not return your profile.", &scrubbedError{err, []string{tok.AccessToken}})
	}
	// OIDC Core 5.3.2: the userinfo response must be about the same person.
	if ui.Subject != c.Subject {
		return errorFromProvider("The sign-in service returned a profile of someone else.",
			fmt.Errorf("%w: userinfo sub %q differs from %q", errAnotherPerson, ui.Subject, c.Subject))
	}
	var u claims
	if err := ui.Claims(&u); err != nil {
		return errorFromProvider("The sign-in service returned an unreadable profile.", err)
	}
	if c.Email == "" {
		c.Email, c.EmailVerified = u.Email, u.EmailVerified
	}
	c.PreferredUsername = cmp.Or(c.PreferredUsername, u.PreferredUsername)
	c.Name = cmp.Or(c.Name, u.Name)
	if len(c.Groups) == 0 {
		c.Groups = u.Groups
	}
	if err := p.readExtraClaims(r, ui.Claims, c); err != nil {
		return errorFromProvider("The sign-in service returned an unreadable profile.", err)
	}
	return nil
}

// readExtraClaims adds to c the further claims that policies and headers
// read, from a claim set (the ID token's or userinfo's) that c does not yet
// have them from. Strings, numbers and booleans count, alone or in a list;
// values that could not travel in a comma-separated header are dropped.
func (p *Proxy) readExtraClaims(r *http.Request, decode func(any) error, c *claims) error {
	names := p.state.Load().claimNames // the latest routes', which the session will meet
	if len(names) == 0 {
		return nil
	}
	var all map[string]json.RawMessage
	if err := decode(&all); err != nil {
		return err
	}
	for _, name := range names {
		raw, ok := all[name]
		if _, have := c.extra[name]; have || !ok {
			continue
		}
		items := []json.RawMessage{raw}
		if len(raw) > 0 && raw[0] == '[' {
			if err := json.Unmarshal(raw, &items); err != nil {
				return err
			}
		}
		var values []string
		for _, it := range items {
			if v, ok := claimText(it); ok {
				values = append(values, v)
			}
		}
		if c.extra == nil {
			c.extra = map[string][]string{}
		}
		c.extra[name] = p.forwardable(r, name, values)
	}
	return nil
}

// check refuses identities that cannot travel in an HTTP header unchanged:
// quietly altering one could turn it into someone else's. Receivers trim
// spaces around header values, so "admin " would arrive as "admin".
func (c *claims) check() error {
	if c.Subject == "" {
		return errors.New("ID token without sub")
	}
	// The name is for display only; tidying it cannot confuse identities.
	c.Name = strings.TrimSpace(c.Name)
	// An address the provider has not verified may belong to someone else
	// (OIDC Core 5.1), and upstreams often key accounts by email.
	if c.EmailVerified != nil && !*c.EmailVerified {
		c.Email = ""
	}
	for _, f := range []struct{ name, v string }{
		{"sub", c.Subject}, {"email", c.Email}, {"preferred_username", c.PreferredUsername}, {"name", c.Name},
	} {
		if !headerSafe(f.v) {
			return fmt.Errorf("claim %s %.100q has control characters or surrounding spaces", f.name, f.v)
		}
	}
	return nil
}

// claimText is a claim value as policies and headers compare it: a string
// as it is, a number or boolean as written in the JSON (so 12345678 stays
// 12345678, and large integers keep every digit); objects and null have
// none.
func claimText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err == nil
	case c == 't' || c == 'f' || c == '-' || '0' <= c && c <= '9':
		return string(raw), true
	}
	return "", false
}

// forwardable drops the values of a list claim (groups, say) that would be
// misread in a comma-separated header: a group named "a,admin" must not
// become membership of "admin". Policies see only what headers can carry,
// so the two never disagree.
func (p *Proxy) forwardable(r *http.Request, claim string, values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if v == "" || strings.Contains(v, ",") || !headerSafe(v) {
			p.log.WarnContext(r.Context(), "claim value dropped: it cannot be represented in a comma-separated header", "claim", claim, "value", v)
			continue
		}
		out = append(out, v)
	}
	return out
}

// boolOrString reads a boolean claim that some providers send as the
// string "true" or "false", such as email_verified.
type boolOrString bool

func (b *boolOrString) UnmarshalJSON(j []byte) error {
	switch string(j) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`:
		*b = false
	default:
		return fmt.Errorf("%s is not a boolean", j)
	}
	return nil
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
