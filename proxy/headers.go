package proxy

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// Header kinds, for headerFilter.
const (
	kindIdentity   = 1 // says who the person is
	kindForwarding = 2 // says how the request reached the proxy
)

// wellKnownIdentityHeaders are names that some upstream may read as
// identity, whether or not any route sets them: they are removed from every
// request, in every spelling.
var wellKnownIdentityHeaders = []string{
	"remote-user", "remote-email", "remote-name", "remote-groups", "x-remote-user", "x-remote-email",
	"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username",
	"x-forwarded-access-token", "x-forwarded-id-token",
}

// identityHeaderPrefixes are families of identity headers, removed whatever
// follows the prefix (oauth2-proxy's X-Auth-Request-*, Grafana's and
// Gitea's X-WEBAUTH-*).
var identityHeaderPrefixes = []string{"x-auth-request-", "x-webauth-"}

// forwardingHeaders describe the connection or the original request. A
// client must not choose them: apps use them for the client's address, the
// scheme and host in links, or even (X-Original-URL, X-Rewrite-URL) to
// route the request, which would bypass the path the proxy authorised.
var forwardingHeaders = []string{
	"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
	"x-forwarded-prefix", "x-forwarded-uri", "x-forwarded-method", "x-forwarded-server",
	"x-forwarded-ssl", "x-forwarded-scheme", "x-real-ip", "x-client-ip", "x-original-url",
	"x-original-uri", "x-original-method", "x-original-host", "x-rewrite-url", "front-end-https",
}

// forwardingHeaderPrefixes are families of forwarding headers: Envoy's
// X-Forwarded-Client-Cert and Traefik's X-Forwarded-Tls-Client-Cert carry
// a client certificate's identity, and others may appear.
var forwardingHeaderPrefixes = []string{"x-forwarded-", "x-original-"}

// maxFilteredName bounds the header names the filter normalises; longer
// names are checked against the prefixes only.
const maxFilteredName = 64

// headerFilter recognises identity and forwarding headers in any spelling
// that Go, nginx, PHP, WSGI or Rack would treat as the same name: any case,
// and "_" for "-".
type headerFilter struct {
	kinds map[string]uint8 // normalised name → kind
}

func newHeaderFilter(configured []string) *headerFilter {
	f := &headerFilter{kinds: map[string]uint8{}}
	for _, n := range wellKnownIdentityHeaders {
		f.kinds[n] = kindIdentity
	}
	for _, n := range configured {
		f.kinds[normalizeHeaderName(n)] = kindIdentity
	}
	for _, n := range forwardingHeaders {
		f.kinds[n] = kindForwarding
	}
	return f
}

func normalizeHeaderName(k string) string {
	return strings.ReplaceAll(strings.ToLower(k), "_", "-")
}

// kind returns what k is, or 0 for any other header. It does not allocate.
func (f *headerFilter) kind(k string) uint8 {
	var buf [maxFilteredName]byte
	n := min(len(k), len(buf))
	for i := 0; i < n; i++ {
		c := k[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if len(k) <= len(buf) && f.kinds != nil {
		if kind, ok := f.kinds[string(buf[:n])]; ok {
			return kind
		}
	}
	for _, p := range identityHeaderPrefixes {
		if n > len(p) && string(buf[:len(p)]) == p {
			return kindIdentity
		}
	}
	for _, p := range forwardingHeaderPrefixes {
		if n > len(p) && string(buf[:len(p)]) == p {
			return kindForwarding
		}
	}
	return 0
}

// headerClaim is one identity header and the claim it carries.
type headerClaim struct {
	name  string // canonical header key
	claim string
}

// compileIdentity reads what a route tells its upstream.
func (rt *route) compileIdentity(rc Route, ps *problems) {
	f := &rt.forward
	id := rc.Identity
	preset, ok := HeaderPresets[cmp.Or(id.Preset, "forwarded")]
	if !ok {
		ps.add(rt.field+".identity.preset", "%q is not a preset; use one of %s", id.Preset, strings.Join(presetNames(), ", "))
	}
	byName := map[string]string{}
	for name, claim := range preset {
		byName[http.CanonicalHeaderKey(name)] = claim
	}
	for _, name := range sortedKeys(id.Headers) {
		field := rt.field + ".identity.headers." + name
		if msg := checkHeaderName(name, true); msg != "" {
			ps.add(field, "%s", msg)
			continue
		}
		if id.Headers[name] == "" {
			ps.add(field, "name the claim this header carries, e.g. email")
			continue
		}
		byName[http.CanonicalHeaderKey(name)] = id.Headers[name]
	}
	for _, name := range sortedKeys(byName) {
		f.headers = append(f.headers, headerClaim{name: name, claim: byName[name]})
	}
	switch id.Authorization {
	case "", "id_token", "access_token":
	case "basic":
		f.basicClaim = cmp.Or(id.BasicAuthUserClaim, policy.ClaimPreferredUsername)
		f.basicPassword = id.BasicAuthPassword
		if f.basicPassword == "" {
			ps.add(rt.field+".identity.basic_auth.password", "is required with authorization: basic (the upstream checks it; use password_file for a secret)")
		}
	default:
		ps.add(rt.field+".identity.authorization", "%q is not allowed; use id_token, access_token or basic", id.Authorization)
	}
	if id.Authorization != "basic" && (id.BasicAuthUserClaim != "" || id.BasicAuthPassword != "") {
		ps.add(rt.field+".identity.basic_auth", "applies only with authorization: basic")
	}
	f.authorization = id.Authorization
	f.tokenHeader = id.AccessTokenHeader
}

// claimNames returns the non-standard claims the route's headers carry.
func (f *forwarding) claimNames() []string {
	var names []string
	for _, h := range f.headers {
		if !policy.IsStandard(h.claim) {
			names = append(names, h.claim)
		}
	}
	if f.basicClaim != "" && !policy.IsStandard(f.basicClaim) {
		names = append(names, f.basicClaim)
	}
	return names
}

func presetNames() []string {
	names := make([]string, 0, len(HeaderPresets))
	for n := range HeaderPresets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// headerValues hands out one-element value slices from one backing array.
type headerValues []string

func (vals *headerValues) set(h http.Header, k, v string) {
	n := len(*vals)
	if n == cap(*vals) {
		h[k] = []string{v}
		return
	}
	*vals = append(*vals, v)
	h[k] = (*vals)[n : n+1 : n+1]
}

// setIdentity sets the route's identity headers from the session.
func setIdentity(h http.Header, f *forwarding, s *session, vals *headerValues) {
	put := func(k, v string) { vals.set(h, k, v) }
	for _, hc := range f.headers {
		if v := claimValue(&s.Identity, hc.claim); v != "" {
			put(hc.name, v)
		}
	}
	switch f.authorization {
	case "id_token":
		put("Authorization", "Bearer "+s.tokens.id)
	case "access_token":
		put("Authorization", "Bearer "+s.tokens.access)
	case "basic":
		if user := claimValue(&s.Identity, f.basicClaim); user != "" && !strings.Contains(user, ":") {
			put("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+f.basicPassword)))
		}
	}
	if f.tokenHeader {
		put("X-Forwarded-Access-Token", s.tokens.access)
	}
}

// claimValue is the value of claim as a header carries it: lists joined
// with commas (the proxy keeps no value that contains one).
func claimValue(id *policy.Identity, claim string) string {
	switch claim {
	case policy.ClaimSubject:
		return id.Subject
	case policy.ClaimEmail:
		return id.Email
	case policy.ClaimPreferredUsername:
		return id.PreferredUsername
	case policy.ClaimName:
		return id.Name
	case policy.ClaimGroups:
		return strings.Join(id.Groups, ",")
	}
	return strings.Join(id.Claims[claim], ",")
}

// checkHeaderName says what is wrong with a configured header name, or "".
// Identity headers are removed from every request on every route, so an
// identity header cannot be one that clients send for other reasons.
func checkHeaderName(name string, identity bool) string {
	if name == "" || len(name) > maxFilteredName || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return fmt.Sprintf("is not a header name of at most %d letters, digits and dashes (underscores are refused: servers read X_A as X-A)", maxFilteredName)
	}
	canon := http.CanonicalHeaderKey(name)
	switch canon {
	case "Host", "Cookie", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer",
		"Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Set-Cookie":
		return "is managed by the proxy and cannot be set"
	}
	if slices.Contains(forwardingHeaders, normalizeHeaderName(name)) {
		return "describes the connection and is set by the proxy (see trusted_proxies)"
	}
	if identity && (canon == "Authorization" || isStandardRequestHeader(canon)) {
		return "is a request header that clients send for their own reasons, and identity headers are removed from every request; choose another name (for Authorization, use identity.authorization)"
	}
	return ""
}

// isStandardRequestHeader reports whether the canonical name k is a header
// that browsers and HTTP clients send by themselves.
func isStandardRequestHeader(k string) bool {
	switch k {
	case "Accept", "Cache-Control", "Date", "Expect", "From", "Origin", "Pragma", "Range", "Referer",
		"User-Agent", "Via", "Dnt", "Priority", "Upgrade-Insecure-Requests":
		return true
	}
	for _, family := range []string{"Accept-", "Content-", "If-", "Sec-", "Access-Control-"} {
		if strings.HasPrefix(k, family) {
			return true
		}
	}
	return false
}

// headerSafe reports whether s arrives at the upstream exactly as sent in a
// header value: no control characters, no surrounding spaces.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}
