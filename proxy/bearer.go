package proxy

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// API clients cannot follow a sign-in, so a request without a session
// cookie may carry "Authorization: Bearer <token>" instead (RFC 6750). A JWT
// from the provider is verified offline against its published keys; any
// other token is asked about at the provider's introspection endpoint, when
// that is enabled. Either way the token's claims make a session that lives
// for the one request and passes the same route policies as a signed-in
// person's.

const (
	// bearerLeeway forgives clocks that disagree a little: a proxy clock
	// running ahead would otherwise end tokens early. go-oidc allows none
	// for exp (five minutes for nbf), so verification runs this far behind.
	bearerLeeway = 30 * time.Second
	// maxBearerBytes bounds the work one header can cause. Real tokens,
	// even with many groups, are a few KiB.
	maxBearerBytes = 16 << 10
	// maxProviderResponse bounds what the proxy reads of a JWKS or an
	// introspection answer.
	maxProviderResponse = 1 << 20
)

// bearerError is why a bearer token was refused: an RFC 6750 section 3.1
// error code and a description for the client, and a cause for the log.
type bearerError struct {
	status      int    // 400 or 401; 5xx when the provider could not be asked
	code        string // invalid_request, invalid_token, temporarily_unavailable, server_error
	description string // printable ASCII without quotes, for WWW-Authenticate
	cause       error
}

func (e *bearerError) Error() string {
	if e.cause != nil {
		return "bearer token: " + e.description + ": " + e.cause.Error()
	}
	return "bearer token: " + e.description
}

func (e *bearerError) Unwrap() error { return e.cause }

func invalidRequest(format string, args ...any) *bearerError {
	return &bearerError{status: http.StatusBadRequest, code: "invalid_request", description: quotable(fmt.Sprintf(format, args...))}
}

func invalidToken(cause error, format string, args ...any) *bearerError {
	return &bearerError{status: http.StatusUnauthorized, code: "invalid_token", description: quotable(fmt.Sprintf(format, args...)), cause: cause}
}

// providerTrouble is a token that could not be checked: not the client's
// fault, and not to be remembered as a refusal.
func providerTrouble(cause error, format string, args ...any) *bearerError {
	return &bearerError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", description: quotable(fmt.Sprintf(format, args...)), cause: cause}
}

// quotable makes s fit a quoted error_description, which RFC 6750 section
// 3 limits to printable ASCII without '"' and '\'. Parts of it may come
// from the token, so it is also cut short.
func quotable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 400 {
			b.WriteString("...")
			break
		}
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r < 0x20 || r > 0x7e || r == '\\':
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// bearerToken reads the token of an "Authorization: Bearer" header (RFC
// 6750 section 2.1; the scheme in any case). present is false without an
// Authorization header or with another scheme, which is the upstream's
// business. err is an invalid_request for a malformed Bearer header, and
// for more than one Authorization header, of which it is not clear which
// counts.
func bearerToken(h http.Header) (token string, present bool, err error) {
	values := h["Authorization"]
	switch {
	case len(values) == 0:
		return "", false, nil
	case len(values) > 1:
		return "", true, invalidRequest("the request has %d Authorization headers; send one", len(values))
	}
	v := values[0]
	scheme, rest := v, ""
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		scheme, rest = v[:i], v[i:]
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil
	}
	token = strings.TrimLeft(rest, " ")
	switch {
	case token == "":
		return "", true, invalidRequest("the Authorization header has no token after Bearer")
	case !isB64token(token):
		return "", true, invalidRequest("the bearer token is malformed: send 'Authorization: Bearer <token>' with one space, the token being letters, digits and -._~+/ with = only at its end (RFC 6750 section 2.1)")
	}
	return token, true, nil
}

// isB64token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// bearerInstead is called for a request without a session cookie value:
// it returns the session of the request's bearer token when it has one, and
// otherwise s and err, what sessionFor made of the cookies. Only such
// requests look at Authorization, so the cookie path parses no token, and
// apps that send their own Authorization keep working for signed-in people.
func (p *Proxy) bearerInstead(r *http.Request, b *bearerAuth, s *session, err error) (*session, error) {
	if err == nil {
		return s, nil // a session cookie after all, behind an empty one
	}
	token, present, berr := bearerToken(r.Header)
	switch {
	case berr != nil:
		return nil, berr
	case !present:
		return s, err
	}
	return p.bearerSession(r, b, token)
}

// bearerFailed answers a request whose bearer token was refused (RFC 6750
// section 3: never a redirect to sign in, which a script cannot follow), and
// reports whether err was such a refusal.
func (p *Proxy) bearerFailed(w http.ResponseWriter, r *http.Request, err error) bool {
	var be *bearerError
	if !errors.As(err, &be) {
		return false
	}
	if be.status >= 500 {
		p.fail(w, r, &pages.Error{Status: be.status, Kind: "token_unchecked", Code: be.code, Detail: be.description, Cause: be})
		return true
	}
	p.log.DebugContext(r.Context(), "bearer token refused", "path", r.URL.Path, "reason", be.Error())
	p.challenge(w, r, be.status, be.code, be.description)
	return true
}

// bearerSession checks a bearer token and returns the session it stands
// for. The session has no id: it is not stored and lives for this request.
// Errors are *bearerError.
func (p *Proxy) bearerSession(r *http.Request, b *bearerAuth, token string) (*session, error) {
	if len(token) > maxBearerBytes {
		return nil, invalidToken(nil, "the token is longer than %d bytes", maxBearerBytes)
	}
	h, isJWT := jwtHeaderOf(token)
	var s *session
	var err error
	checkedBy := "signature"
	if isJWT {
		s, err = p.verifyJWT(r, b, token, h)
	} else {
		checkedBy = "introspection"
		s, err = p.introspect(r, b, token)
	}
	if err == nil {
		p.log.DebugContext(r.Context(), "bearer token accepted", "user", s.Subject, "checked_by", checkedBy)
	}
	return s, err
}

// bearerAuth is what the proxy accepts as bearer tokens.
type bearerAuth struct {
	cfg       BearerConfig
	audiences []string
	cacheTTL  time.Duration
	cache     *introspectionCache // nil unless introspection is on
}

// compileBearer checks the bearer settings of pc and prepares them. The
// introspection cache of prev carries over when the settings are the same;
// otherwise its answers, checked against other audiences, must not.
func compileBearer(pc *Config, prev *bearerAuth, ps *problems) *bearerAuth {
	cfg := pc.Bearer
	b := &bearerAuth{cfg: cfg, audiences: cfg.Audiences, cacheTTL: cmp.Or(cfg.IntrospectionCacheTTL, DefaultIntrospectionCacheTTL)}
	if len(b.audiences) == 0 {
		b.audiences = []string{pc.Provider.ClientID}
	}
	for i, a := range cfg.Audiences {
		if strings.TrimSpace(a) == "" {
			ps.add(fmt.Sprintf("bearer.audiences[%d]", i), "is empty; list the audiences tokens may be for (client ids or API identifiers), or remove audiences to accept the proxy's own client id")
		}
	}
	if cfg.IntrospectionCacheTTL < 0 {
		ps.add("bearer.introspection_cache_ttl", "must not be negative")
	}
	if cfg.Introspection {
		if pc.Provider.ClientSecret == "" {
			ps.add("bearer.introspection", "needs provider.client_secret: the proxy authenticates at the introspection endpoint as its client")
		}
		if prev != nil && prev.cache != nil && reflect.DeepEqual(prev.cfg, cfg) {
			b.cache = prev.cache
		} else {
			b.cache = newIntrospectionCache(maxIntrospectionEntries)
		}
	}
	return b
}

// tokenChecker checks tokens against the discovered provider.
type tokenChecker struct {
	verifier      *oidc.IDTokenVerifier
	algs          []string // what the provider signs with; public-key algorithms only
	introspection string   // the introspection endpoint, if the provider has one
	// logout verifies back-channel logout tokens, which are for the
	// proxy's client id and may lack exp: backchannel.go checks times.
	logout *oidc.IDTokenVerifier
}

// tokenChecker returns the checker for the discovered provider, building it
// on first need, as discovery itself happens.
func (p *Proxy) tokenChecker(ctx context.Context) (*tokenChecker, error) {
	if tc := p.checker.Load(); tc != nil {
		return tc, nil
	}
	op, err := p.discovery.get(ctx)
	if err != nil {
		return nil, err
	}
	p.checkerMu.Lock()
	defer p.checkerMu.Unlock()
	if tc := p.checker.Load(); tc != nil {
		return tc, nil
	}
	var meta struct {
		JWKS          string   `json:"jwks_uri"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
		Introspection string   `json:"introspection_endpoint"`
	}
	if err := op.oidc.Claims(&meta); err != nil {
		return nil, fmt.Errorf("reading discovery document of %s: %w", p.cfg.Provider.IssuerURL, err)
	}
	// "none" and HMAC never pass, whatever discovery says: an HMAC keyed
	// with the provider's public key is a signature anyone can make.
	algs := slices.DeleteFunc(slices.Clone(meta.Algs), func(a string) bool { return !publicKeyAlg(a) })
	if len(algs) == 0 {
		algs = []string{"RS256"} // the default of OpenID Connect Discovery 1.0, section 3
	}
	keys := newKeySet(meta.JWKS, p.cfg.Provider.HTTPClient, p.now, algs)
	tc := &tokenChecker{
		algs: algs,
		verifier: oidc.NewVerifier(p.cfg.Provider.IssuerURL, keys, &oidc.Config{
			SkipClientIDCheck:    true, // audiences are checked against the configured list
			SupportedSigningAlgs: algs,
			Now:                  func() time.Time { return p.now().Add(-bearerLeeway) },
		}),
		logout: oidc.NewVerifier(p.cfg.Provider.IssuerURL, keys, &oidc.Config{
			ClientID:             p.cfg.Provider.ClientID,
			SupportedSigningAlgs: algs,
			SkipExpiryCheck:      true,
		}),
		introspection: meta.Introspection,
	}
	p.checker.Store(tc)
	return tc, nil
}

func publicKeyAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// jwtHeader is the protected header of a JWS, as the token says it.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// jwtHeaderOf reads the header of a token in JWS compact form, and reports
// whether the token has that form; other tokens are opaque.
func jwtHeaderOf(token string) (jwtHeader, bool) {
	var h jwtHeader
	first, rest, ok := strings.Cut(token, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return h, false
	}
	b, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil || json.Unmarshal(b, &h) != nil {
		return h, false
	}
	return h, true
}

// verifyJWT checks a JWT offline: signature by a key the provider
// publishes, with an algorithm it uses; issuer; expiry (with
// bearerLeeway); audience from the configured list.
func (p *Proxy) verifyJWT(r *http.Request, b *bearerAuth, raw string, h jwtHeader) (*session, error) {
	ctx := p.discovery.context(r.Context())
	tc, err := p.tokenChecker(ctx)
	if err != nil {
		return nil, providerTrouble(err, "the provider could not be reached to check the token")
	}
	if !slices.Contains(tc.algs, h.Alg) {
		return nil, invalidToken(nil, "the token is signed with alg %.20q; the provider signs with %s", h.Alg, strings.Join(tc.algs, ", "))
	}
	// RFC 9068 section 2.1 marks access tokens at+jwt; ID tokens have JWT
	// or nothing. Other JWTs of the provider (logout tokens, say) are not
	// credentials.
	var access bool
	switch typ := strings.ToLower(h.Typ); typ {
	case "at+jwt", "application/at+jwt":
		access = true
	case "", "jwt":
	default:
		return nil, invalidToken(nil, "the token's type %.40q is neither an ID token nor an access token (at+jwt)", h.Typ)
	}
	var ko keyOutcome
	idt, err := tc.verifier.Verify(context.WithValue(ctx, keyOutcomeKey{}, &ko), raw)
	if err != nil {
		return nil, p.jwtFailure(err, ko, h)
	}
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(b.audiences, a) }) {
		return nil, invalidToken(nil, "the token is for %s, not for this proxy, which accepts tokens for %s", strings.Join(idt.Audience, ", "), strings.Join(b.audiences, ", "))
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return nil, invalidToken(err, "the token's claims are unreadable")
	}
	if err := p.readExtraClaims(r, idt.Claims, &c); err != nil {
		return nil, invalidToken(err, "the token's claims are unreadable")
	}
	if err := checkTokenClaims(&c); err != nil {
		return nil, err
	}
	s := &session{expiry: idt.Expiry, Identity: p.identityOf(r, &c)}
	if access {
		s.tokens.access, s.tokens.accessExpiry = raw, idt.Expiry
	} else {
		s.tokens.id = raw
	}
	return s, nil
}

// checkTokenClaims is claims.check for a token's claims.
func checkTokenClaims(c *claims) *bearerError {
	if c.Subject == "" {
		return invalidToken(nil, "the token has no sub claim, so it names nobody")
	}
	if err := c.check(); err != nil {
		return invalidToken(err, "the token's identity cannot be passed on safely: %v", err)
	}
	return nil
}

// jwtFailure says why go-oidc refused a token.
func (p *Proxy) jwtFailure(err error, ko keyOutcome, h jwtHeader) *bearerError {
	var expired *oidc.TokenExpiredError
	switch {
	case errors.As(err, &expired) && expired.Expiry.IsZero():
		return invalidToken(err, "the token has no expiry (exp)")
	case errors.As(err, &expired):
		return invalidToken(err, "the token expired at %s; get a new one", expired.Expiry.UTC().Format(time.RFC3339))
	case ko == keysUnavailable:
		return providerTrouble(err, "the provider's signing keys could not be fetched to check the token")
	case ko == keyUnknown:
		return invalidToken(err, "the token is signed with a key (kid %.60q) that the provider %s does not publish", h.Kid, p.cfg.Provider.IssuerURL)
	case ko == keyBadSignature:
		return invalidToken(err, "the token's signature is not valid")
	}
	return invalidToken(nil, "the token failed verification: %s", strings.TrimPrefix(err.Error(), "oidc: "))
}
