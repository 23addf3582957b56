package authserver

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/authserver/directory"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// This file holds the parsers of untrusted request input. They do no I/O
// and keep no state, so they can be fuzzed on their own.

// Limits on parameter sizes. They are far above what real clients send and
// keep the sealed request (carried in the login and consent URLs), the
// Location headers and the pages small. A parameter without a limit of its
// own gets maxParamLen.
const (
	maxParamLen     = 2048 // also the longest URI accepted
	maxUILocalesLen = 256
	maxParams       = 64
	maxClientIDLen  = 256
	maxStateLen     = 2048
	maxNonceLen     = 512
	maxScopeLen     = 1024
	maxHintLen      = 8192
	maxLoginHintLen = 256
	maxTokenLen     = 4096
	maxSealedLen    = 8192 // a sealed request in the login and consent forms
	maxPasswordLen  = 1024
)

// paramLimits are the limits of the parameters that have their own.
var paramLimits = map[string]int{
	"client_id":     maxClientIDLen,
	"state":         maxStateLen,
	"nonce":         maxNonceLen,
	"scope":         maxScopeLen,
	"login_hint":    maxLoginHintLen,
	"id_token_hint": maxHintLen,
	"code":          maxTokenLen,
	"refresh_token": maxTokenLen,
	"code_verifier": maxTokenLen,
	"token":         maxTokenLen,
	"logout_token":  maxTokenLen,
	"csrf_token":    maxTokenLen,
	"req":           maxSealedLen,
	"user_id":       maxLoginHintLen,
	"password":      maxPasswordLen,
	"ui_locales":    maxUILocalesLen,
}

// oversized returns a description of the first parameter of v, in sorted
// order, that is longer than its limit, or of there being too many
// parameters; "" when every one fits. Unknown parameters, which the
// endpoints ignore, are limited too, so nothing unbounded is ever echoed.
func oversized(v url.Values) string {
	if len(v) > maxParams {
		return fmt.Sprintf("the request has %d parameters; at most %d are accepted", len(v), maxParams)
	}
	for _, name := range slices.Sorted(maps.Keys(v)) {
		limit, ok := paramLimits[name]
		if !ok {
			limit = maxParamLen
		}
		if len(name) > maxParamLen {
			return fmt.Sprintf("a parameter name is longer than %d bytes", maxParamLen)
		}
		for _, value := range v[name] {
			if len(value) > limit {
				return fmt.Sprintf("%s is longer than %d bytes", name, limit)
			}
		}
	}
	return ""
}

// authRequest is a checked authorization request (RFC 6749 §4.1.1, OpenID
// Connect Core §3.1.2.1). Its fields are exported so that it can be sealed
// into the login and consent URLs.
type authRequest struct {
	ClientID string
	// RedirectURI is the redirect_uri as sent; empty when it was omitted.
	RedirectURI string
	// Target is where the response goes: RedirectURI, or the client's only
	// registered redirect URI when it was omitted.
	Target              string
	Scopes              []string // requested ∩ allowed, in request order
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	PromptNone          bool
	PromptLogin         bool
	PromptConsent       bool
	// MaxAge is the max_age in seconds, or -1 when absent.
	MaxAge      int64
	LoginHint   string
	IDTokenHint string
	// UILocales is the ui_locales the client asked the pages to be in.
	UILocales string
}

// parseAuthRequest checks the parameters of an authorization request. It
// returns a *pageError for problems found before the redirect URI is
// trusted (unknown client, unregistered redirect URI) and a *redirectError
// for everything found after.
func parseAuthRequest(q url.Values, lookup func(id string) *directory.Client) (*authRequest, error) {
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			return nil, badRequestPage(fmt.Sprintf("The request gives %s more than once.", name))
		}
	}
	clientID := q.Get("client_id")
	switch {
	case clientID == "":
		return nil, badRequestPage("The request does not say which application is asking: client_id is missing.")
	case len(clientID) > maxClientIDLen:
		return nil, badRequestPage(fmt.Sprintf("client_id is longer than %d bytes, so it cannot be a registered application.", maxClientIDLen))
	case len(q.Get("redirect_uri")) > maxParamLen:
		return nil, badRequestPage(fmt.Sprintf("redirect_uri is longer than %d bytes, so it cannot be a registered redirect URI.", maxParamLen))
	}
	client := lookup(clientID)
	if client == nil {
		return nil, badRequestPage(fmt.Sprintf("The application %q is not registered here (unknown client_id).", clientID))
	}
	if !client.AllowsGrant(grantAuthorizationCode) {
		// Such a client, acting only for itself, has no redirect URI to
		// send an unauthorized_client error to.
		return nil, badRequestPage(fmt.Sprintf("The application %q may not sign people in here: its grant types are %s, without authorization_code.",
			client.ID, strings.Join(client.GrantTypes, ", ")))
	}
	req := &authRequest{ClientID: client.ID, RedirectURI: q.Get("redirect_uri"), MaxAge: -1}
	switch {
	case req.RedirectURI != "" && slices.Contains(client.RedirectURIs, req.RedirectURI):
		req.Target = req.RedirectURI
	case req.RedirectURI != "":
		return nil, badRequestPage(fmt.Sprintf("redirect_uri %s is not registered for client %s; registered: %s.",
			req.RedirectURI, client.ID, strings.Join(client.RedirectURIs, ", ")))
	case len(client.RedirectURIs) == 1 && slices.Contains(strings.Split(q.Get("scope"), " "), "openid"):
		// OpenID Connect Core §3.1.2.1 makes redirect_uri required, so a
		// client can't come to rely on the single-URI shortcut of RFC 6749.
		return nil, badRequestPage(fmt.Sprintf("redirect_uri is missing; OpenID Connect requests (scope openid) must name it, and client %s has registered: %s.",
			client.ID, strings.Join(client.RedirectURIs, ", ")))
	case len(client.RedirectURIs) == 1:
		req.Target = client.RedirectURIs[0]
	default:
		return nil, badRequestPage(fmt.Sprintf("Client %s has %d redirect URIs registered, so the request must choose one with redirect_uri; registered: %s.",
			client.ID, len(client.RedirectURIs), strings.Join(client.RedirectURIs, ", ")))
	}

	// From here on errors go back to the client.
	req.State = q.Get("state")
	fail := func(code, format string, args ...any) (*authRequest, error) {
		return nil, req.fail(code, format, args...)
	}
	if name := repeated(q); name != "" {
		return fail(codeInvalidRequest, "parameter %s is given more than once", name)
	}
	if len(req.State) > maxStateLen {
		// Not echoed: it would make the Location header huge.
		req.State = ""
	}
	if problem := oversized(q); problem != "" {
		return fail(codeInvalidRequest, "%s", problem)
	}
	switch {
	case q.Has("request"):
		return fail(codeRequestNotSupported, "request objects are not supported; send the parameters directly")
	case q.Has("request_uri"):
		return fail(codeRequestURINotSupported, "request_uri is not supported; send the parameters directly")
	case q.Has("registration"):
		return fail(codeRegistrationNotSupported, "the registration parameter is not supported")
	case q.Has("claims"):
		// OpenID Connect Core §5.5 is optional; discovery says
		// claims_parameter_supported false, and silently ignoring the
		// request could hand out fewer claims than the client insists on.
		return fail(codeInvalidRequest, "the claims parameter is not supported; ask for claims with the scopes profile, email and groups")
	case q.Get("response_type") == "":
		return fail(codeInvalidRequest, "response_type is missing; use response_type=code")
	case q.Get("response_type") != "code":
		return fail(codeUnsupportedResponseType, "response_type %s is not supported; use code", q.Get("response_type"))
	case q.Has("response_mode") && q.Get("response_mode") != "query":
		return fail(codeInvalidRequest, "response_mode %s is not supported; use query", q.Get("response_mode"))
	}

	requested, err := parseScope(q.Get("scope"))
	if err != nil {
		return fail(codeInvalidScope, "%v", err)
	}
	if len(requested) == 0 {
		return fail(codeInvalidScope, "scope is missing; client %s may ask for: %s", client.ID, strings.Join(client.Scopes, " "))
	}
	req.Scopes = intersect(requested, client.Scopes)
	if len(req.Scopes) == 0 {
		return fail(codeInvalidScope, "none of the requested scopes (%s) is allowed for client %s; allowed: %s",
			strings.Join(requested, " "), client.ID, strings.Join(client.Scopes, " "))
	}

	req.CodeChallenge = q.Get("code_challenge")
	req.CodeChallengeMethod = q.Get("code_challenge_method")
	switch {
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return fail(codeInvalidRequest, "code_challenge_method is given without code_challenge")
	case req.CodeChallenge == "" && client.Public():
		return fail(codeInvalidRequest, "client %s is a public client and must use PKCE: send code_challenge with code_challenge_method=S256", client.ID)
	case req.CodeChallenge == "" && client.RequirePKCE:
		return fail(codeInvalidRequest, "client %s must use PKCE: send code_challenge with code_challenge_method=S256", client.ID)
	case req.CodeChallenge != "" && req.CodeChallengeMethod != "S256":
		// An absent method means "plain" (RFC 7636 §4.3), which protects
		// nothing once the request is observed; RFC 9700 §2.1.1.
		method := req.CodeChallengeMethod
		if method == "" {
			method = "plain (the default when code_challenge_method is absent)"
		}
		return fail(codeInvalidRequest, "code_challenge_method %s is not accepted; use S256", method)
	case req.CodeChallenge != "" && !validS256Challenge(req.CodeChallenge):
		return fail(codeInvalidRequest, "code_challenge must be the 43-character base64url SHA-256 of the code verifier")
	}

	req.Nonce = q.Get("nonce")
	if q.Has("prompt") {
		for _, p := range strings.Split(q.Get("prompt"), " ") {
			switch p {
			case "none":
				req.PromptNone = true
			case "login", "select_account":
				// Only one account is signed in at a time, so choosing an
				// account means signing in again.
				req.PromptLogin = true
			case "consent":
				req.PromptConsent = true
			default:
				return fail(codeInvalidRequest, "prompt value %q is not supported; use none, login, consent or select_account", p)
			}
		}
		if req.PromptNone && (req.PromptLogin || req.PromptConsent) {
			return fail(codeInvalidRequest, "prompt=none cannot be combined with other prompt values")
		}
	}
	if q.Has("max_age") {
		n, err := strconv.ParseInt(q.Get("max_age"), 10, 64)
		if err != nil || n < 0 {
			return fail(codeInvalidRequest, "max_age must be a non-negative number of seconds")
		}
		req.MaxAge = n
	}
	// acr_values is a voluntary request (OpenID Connect Core §3.1.2.1):
	// there is one way to sign in here, and auth_time says when it happened.
	req.LoginHint = q.Get("login_hint")
	req.UILocales = q.Get("ui_locales")
	req.IDTokenHint = q.Get("id_token_hint")
	return req, nil
}

// repeated returns the first name, in sorted order, that has more than one
// value, or "". RFC 6749 §3.1 forbids repeating a parameter.
func repeated(v url.Values) string {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if len(v[name]) > 1 {
			return name
		}
	}
	return ""
}

func badRequestPage(detail string) *pages.Error {
	return &pages.Error{Status: http.StatusBadRequest, Kind: "bad_request", Code: codeInvalidRequest, Detail: detail}
}

// parseScope splits a scope parameter (RFC 6749 §3.3) into its tokens,
// dropping duplicates and keeping order.
func parseScope(s string) ([]string, error) {
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" || slices.Contains(out, tok) {
			continue
		}
		for _, c := range []byte(tok) {
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, fmt.Errorf("scope contains a character that is not allowed in a scope token (RFC 6749 §3.3)")
			}
		}
		out = append(out, tok)
	}
	return out, nil
}

// intersect returns the elements of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// validS256Challenge reports whether s can be an S256 code challenge: the
// unpadded base64url encoding of 32 bytes.
func validS256Challenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// validCodeVerifier reports whether s is a code verifier as RFC 7636 §4.1
// defines it: 43 to 128 unreserved characters.
func validCodeVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !isUnreserved(c) {
			return false
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// tokenRequest is a parsed token request (RFC 6749 §4.1.3, §6).
type tokenRequest struct {
	clientAuth
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scopes       []string
	ScopeGiven   bool
}

// invalidClient is the token endpoint's answer to failed client
// authentication: 401 with a Basic challenge. RFC 6749 §5.2 requires the
// challenge when the client tried Basic, and RFC 9110 §11.6.1 requires one
// on every 401; Basic is the method clients are registered with by default.
func invalidClient(format string, args ...any) *oauthError {
	e := newOAuthError(codeInvalidClient, http.StatusUnauthorized, format, args...)
	e.challenge = `Basic realm="gatehouse", charset="UTF-8"`
	return e
}

// parseTokenRequest checks a token request: its form (see parseForm) and
// the values of its Authorization header.
func parseTokenRequest(form url.Values, authorization []string) (*tokenRequest, *oauthError) {
	auth, oerr := parseClientAuth(form, authorization)
	if oerr != nil {
		return nil, oerr
	}
	req := &tokenRequest{
		clientAuth:   auth,
		GrantType:    form.Get("grant_type"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"),
		ScopeGiven:   form.Has("scope"),
	}
	if req.GrantType == "" {
		return nil, newOAuthError(codeInvalidRequest, http.StatusBadRequest, "grant_type is missing")
	}
	if req.ScopeGiven {
		scopes, err := parseScope(form.Get("scope"))
		if err != nil {
			return nil, newOAuthError(codeInvalidScope, http.StatusBadRequest, "%v", err)
		}
		req.Scopes = scopes
	}
	return req, nil
}

// parseBasicAuth decodes an HTTP Basic Authorization header value. Client
// ID and secret are form-urlencoded before being joined (RFC 6749 §2.3.1),
// so they are decoded here.
func parseBasicAuth(header string) (id, secret string, err error) {
	scheme, creds, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", fmt.Errorf("the Authorization header must use the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return "", "", fmt.Errorf("the Basic credentials are not valid base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", fmt.Errorf("the Basic credentials have no colon between client ID and secret")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", fmt.Errorf("the client ID in the Basic credentials is not form-urlencoded correctly")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", fmt.Errorf("the client secret in the Basic credentials is not form-urlencoded correctly")
	}
	if id == "" {
		return "", "", fmt.Errorf("the Basic credentials have an empty client ID")
	}
	return id, secret, nil
}

// parseBearer extracts a bearer token (RFC 6750) from the values of the
// Authorization header or, for form-encoded POST bodies, from the
// access_token form parameter. It never reads the URL query, where tokens
// would leak into logs and browser history.
func parseBearer(authorization []string, form url.Values) (string, *oauthError) {
	fromForm := form["access_token"]
	switch {
	case len(authorization)+len(fromForm) > 1:
		return "", bearerError(codeInvalidRequest, http.StatusBadRequest, "the access token must be sent exactly once, by one method")
	case len(fromForm) == 1:
		if !isB64Token(fromForm[0]) {
			return "", invalidToken("the access_token parameter is not a well-formed bearer token")
		}
		return fromForm[0], nil
	case len(authorization) == 0:
		return "", invalidToken("the request has no access token; send it as Authorization: Bearer <token>")
	}
	scheme, token, ok := strings.Cut(authorization[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalidToken("the Authorization header must use the Bearer scheme")
	}
	token = strings.TrimLeft(token, " ")
	if !isB64Token(token) {
		return "", invalidToken("the Authorization header does not hold a well-formed bearer token")
	}
	return token, nil
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" || len(s) > maxTokenLen {
		return false
	}
	for _, c := range []byte(body) {
		if !isUnreserved(c) && c != '+' && c != '/' {
			return false
		}
	}
	return true
}

// invalidToken is the error for a missing, malformed, unknown or expired
// bearer token.
func invalidToken(description string) *oauthError {
	return bearerError(codeInvalidToken, http.StatusUnauthorized, description)
}

// bearerError is an error of a resource endpoint. It carries a Bearer
// challenge naming the error, which RFC 6750 §3 requires whenever the
// request holds no access token that grants access, malformed ones included.
func bearerError(code string, status int, description string) *oauthError {
	e := newOAuthError(code, status, "%s", description)
	e.challenge = `Bearer error="` + code + `"`
	return e
}
