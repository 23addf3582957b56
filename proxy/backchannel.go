package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// The provider's back-channel logout (OpenID Connect Back-Channel Logout
// 1.0) posts a logout token here when someone signs out at the provider, or
// their provider session ends otherwise. The token names the provider
// session (sid) or the person (sub), and their proxy sessions end on every
// replica, in every session mode, through the revocation list.

const (
	// maxLogoutRequest bounds the form; a logout token is well under 1 KiB.
	maxLogoutRequest = 32 << 10
	// maxLogoutTokenAge is how long after iat a logout token is accepted
	// at most, whatever its exp says, and so how long its jti must be
	// remembered. The specification recommends exp within two minutes.
	maxLogoutTokenAge = 5 * time.Minute
	// logoutLeeway forgives a provider clock that differs a little.
	logoutLeeway = bearerLeeway
	// backchannelLogoutEvent is the member of events that makes a JWT a
	// logout token (section 2.4).
	backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
)

// logoutRefusal is why a back-channel logout failed: an OAuth error code
// and a description for the provider, which reads it (section 2.8).
type logoutRefusal struct {
	code  string // invalid_request, or temporarily_unavailable for trouble of the proxy's
	cause error
}

func (e *logoutRefusal) Error() string { return e.code + ": " + e.cause.Error() }
func (e *logoutRefusal) Unwrap() error { return e.cause }

func badLogout(format string, args ...any) *logoutRefusal {
	return &logoutRefusal{code: "invalid_request", cause: fmt.Errorf(format, args...)}
}

func logoutTrouble(err error) *logoutRefusal {
	return &logoutRefusal{code: "temporarily_unavailable", cause: err}
}

// backchannelLogout handles backchannelLogoutPath. It answers 200 when the
// sessions ended, and otherwise 400 with an error (section 2.8; a failure
// of the proxy's own is a 400 too, which the provider may retry), never to
// be cached. A refused request changes nothing.
func (p *Proxy) backchannelLogout(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, "POST")
	}
	err := p.logOut(r.Context(), r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, maxLogoutRequest))
	var refusal *logoutRefusal
	if errors.As(err, &refusal) {
		level := slog.LevelInfo
		if refusal.code != "invalid_request" {
			level = slog.LevelWarn
		}
		p.log.Log(r.Context(), level, "back-channel logout refused", "error", refusal.cause)
		p.writeJSON(w, http.StatusBadRequest, map[string]string{"error": refusal.code, "error_description": quotable(refusal.cause.Error())})
		return nil
	}
	pages.SetHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	return nil
}

// logOut checks a back-channel logout request and ends the sessions its
// token names. Errors are *logoutRefusal.
func (p *Proxy) logOut(ctx context.Context, contentType string, body io.Reader) error {
	raw, err := logoutTokenOf(contentType, body)
	if err != nil {
		return err
	}
	n, err := p.verifyLogoutToken(ctx, raw)
	if err != nil {
		return err
	}
	release, err := p.usedLogouts.claim(ctx, n.jti, n.lapses)
	if errors.Is(err, errReplayed) {
		return badLogout("the logout token (jti %.60q) was used already", n.jti)
	}
	if err != nil {
		return logoutTrouble(err)
	}
	// A sid names one provider session; only without one does the token
	// end every session of the person (section 2.7).
	key, who := revokedSub+n.sub, "sub"
	if n.sid != "" {
		key, who = revokedSID+n.sid, "sid"
	}
	if err := p.revoked.add(ctx, key, p.now().Add(p.sessionCfg.TTL)); err != nil {
		release() // so that the provider may send the token again
		return logoutTrouble(err)
	}
	p.log.InfoContext(ctx, "signed out by the provider", "by", who, "sid", n.sid, "user", n.sub)
	return nil
}

// logoutTokenOf reads the logout token of a request body (section 2.5): a
// form with exactly one logout_token.
func logoutTokenOf(contentType string, body io.Reader) (string, error) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return "", badLogout("the body must be application/x-www-form-urlencoded, not %.60q", contentType)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", badLogout("reading the body: %w", err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return "", badLogout("the body is not a form: %w", err)
	}
	if tokens := form["logout_token"]; len(tokens) == 1 && tokens[0] != "" {
		return tokens[0], nil
	}
	return "", badLogout("the form must have exactly one logout_token, not %d", len(form["logout_token"]))
}

// logoutNotice is what a valid logout token says.
type logoutNotice struct {
	sid, sub, jti string
	// lapses is when the token is no longer accepted: its jti need be
	// remembered until then only.
	lapses time.Time
}

// verifyLogoutToken checks a logout token as section 2.6 asks. go-oidc
// verifies the signature, with a key the provider publishes and an
// algorithm it signs ID tokens with (never none or HMAC), the issuer and
// the audience; checkLogoutClaims the rest.
func (p *Proxy) verifyLogoutToken(ctx context.Context, raw string) (logoutNotice, error) {
	if len(raw) > maxBearerBytes {
		return logoutNotice{}, badLogout("the logout token is longer than %d bytes", maxBearerBytes)
	}
	h, isJWT := jwtHeaderOf(raw)
	if !isJWT {
		return logoutNotice{}, badLogout("the logout token is not a signed JWT")
	}
	// logout+jwt is recommended (section 2.4); providers that predate it
	// send JWT or nothing. Any other type marks another kind of token.
	switch strings.TrimPrefix(strings.ToLower(h.Typ), "application/") {
	case "", "jwt", "logout+jwt":
	default:
		return logoutNotice{}, badLogout("the token's type %.40q is not logout+jwt", h.Typ)
	}
	ctx = p.discovery.context(ctx)
	tc, err := p.tokenChecker(ctx)
	if err != nil {
		return logoutNotice{}, logoutTrouble(err)
	}
	if !slices.Contains(tc.algs, h.Alg) {
		return logoutNotice{}, badLogout("the logout token is signed with alg %.20q; the provider signs with %s", h.Alg, strings.Join(tc.algs, ", "))
	}
	var ko keyOutcome
	idt, err := tc.logout.Verify(context.WithValue(ctx, keyOutcomeKey{}, &ko), raw)
	if err != nil {
		if be := p.jwtFailure(err, ko, h); be.status < http.StatusInternalServerError {
			return logoutNotice{}, badLogout("%s", be.description)
		}
		return logoutNotice{}, logoutTrouble(err)
	}
	var payload json.RawMessage
	if err := idt.Claims(&payload); err != nil {
		return logoutNotice{}, badLogout("the logout token's claims are unreadable: %v", err)
	}
	return checkLogoutClaims(payload, p.now())
}

// logoutClaims are the claims of a logout token that go-oidc leaves to
// the caller.
type logoutClaims struct {
	Sub    string                                `json:"sub"`
	SID    string                                `json:"sid"`
	JTI    string                                `json:"jti"`
	IAT    *float64                              `json:"iat"`
	Exp    *float64                              `json:"exp"`
	Events map[string]map[string]json.RawMessage `json:"events"`
	// Nonce is only looked at for its presence, null included.
	Nonce json.RawMessage `json:"nonce"`
}

// checkLogoutClaims checks the claims of a logout token whose signature,
// issuer and audience are verified: iat, exp, events, sub or sid, no
// nonce, and a jti to refuse replays by.
func checkLogoutClaims(payload []byte, now time.Time) (logoutNotice, error) {
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return logoutNotice{}, badLogout("the logout token's claims are malformed: %v", err)
	}
	iat, ok := unixTime(c.IAT)
	switch {
	case !ok:
		return logoutNotice{}, badLogout("the logout token has no valid iat")
	case iat.After(now.Add(logoutLeeway)):
		return logoutNotice{}, badLogout("the logout token was issued in the future (iat %d)", iat.Unix())
	}
	lapses := iat.Add(maxLogoutTokenAge)
	if c.Exp != nil {
		exp, ok := unixTime(c.Exp)
		if !ok {
			return logoutNotice{}, badLogout("the logout token's exp is not a time")
		}
		if exp.Before(lapses) {
			lapses = exp
		}
	}
	lapses = lapses.Add(logoutLeeway)
	if !now.Before(lapses) {
		return logoutNotice{}, badLogout("the logout token has expired (iat %d)", iat.Unix())
	}
	switch event, ok := c.Events[backchannelLogoutEvent]; {
	case !ok || event == nil:
		return logoutNotice{}, badLogout("the token's events has no object %s: it is not a logout token", backchannelLogoutEvent)
	case c.Nonce != nil:
		// An ID token has a nonce, which a logout token must not (section 2.4).
		return logoutNotice{}, badLogout("the logout token has a nonce")
	case c.Sub == "" && c.SID == "":
		return logoutNotice{}, badLogout("the logout token names neither sub nor sid")
	case c.JTI == "":
		return logoutNotice{}, badLogout("the logout token has no jti")
	}
	return logoutNotice{sid: c.SID, sub: c.Sub, jti: c.JTI, lapses: lapses}, nil
}

// unixTime reads a NumericDate; ok is false when absent or out of range.
func unixTime(v *float64) (t time.Time, ok bool) {
	// Past year 9999 is corrupt, and would overflow the conversion.
	if v == nil || math.IsNaN(*v) || *v <= 0 || *v > 253402300799 {
		return time.Time{}, false
	}
	return time.Unix(int64(*v), 0), true
}
