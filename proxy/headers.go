package proxy

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/proxy/canonical"
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
	if len(k) <= len(buf) {
		if kind, ok := f.kinds[string(buf[:n])]; ok {
			return kind
		}
	}
	for _, p := range identityHeaderPrefixes {
		if n > len(p) && string(buf[:len(p)]) == p {
			return kindIdentity
		}
	}
	return 0
}

// headerClaim is one identity header and the claim it carries.
type headerClaim struct {
	name  string // canonical header key
	claim string
}

// forwarding is how a route shapes the requests it sends upstream.
type forwarding struct {
	target       *url.URL
	preserveHost bool
	hostHeader   string
	stripPrefix  bool
	prefix       []string // X-Forwarded-Prefix, with stripPrefix
	set          http.Header
	headers      []headerClaim

	authorization string // "", "id_token", "access_token" or "basic"
	basicClaim    string
	basicPassword string
	tokenHeader   bool // X-Forwarded-Access-Token
}

// needsTokens reports whether requests need the session's tokens.
func (f *forwarding) needsTokens() bool {
	return f.tokenHeader || f.authorization == "id_token" || f.authorization == "access_token"
}

// setsAuthorization reports whether the route replaces the client's
// Authorization header.
func (f *forwarding) setsAuthorization() bool {
	return f.authorization != "" || f.set.Get("Authorization") != ""
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
		if msg := checkHeaderName(name); msg != "" {
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

// forward carries what ServeHTTP worked out for a request to the Rewrite
// hook, through the request's context.
type forward struct {
	route        *route
	session      *session // nil for a request exempt from signing in
	cookie       string   // the Cookie header for the upstream
	stripCookies bool     // whether cookie replaces the incoming header
	path         string   // the canonical path to send, or "" to send the original
	trusted      bool     // the client is a trusted proxy
}

type forwardKey struct{}

// rewrite shapes the outgoing request. Order matters: incoming identity and
// forwarding headers are removed before the proxy's are set.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	f := &fw.route.forward
	if fw.path != "" {
		pr.Out.URL.Path, pr.Out.URL.RawPath = fw.path, ""
	}
	h := pr.Out.Header
	for k := range h {
		if p.headers.kind(k) != 0 {
			delete(h, k)
		}
	}
	if f.setsAuthorization() {
		delete(h, "Authorization")
	}
	pr.SetURL(f.target)
	if fw.trusted {
		if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
			h["X-Forwarded-For"] = slices.Clone(xff)
		}
	}
	pr.SetXForwarded()
	if fw.trusted {
		keepTrusted(pr.In.Header, h)
	}
	switch {
	case f.preserveHost:
		pr.Out.Host = pr.In.Host
	case f.hostHeader != "":
		pr.Out.Host = f.hostHeader
	}
	if f.stripPrefix {
		h["X-Forwarded-Prefix"] = f.prefix
	}
	for k, v := range f.set {
		h[k] = v
	}
	// The values set below share one allocation.
	vals := make(headerValues, 0, len(f.headers)+3)
	if s := fw.session; s != nil {
		setIdentity(h, f, s, &vals)
	}
	if fw.stripCookies {
		if fw.cookie == "" {
			delete(h, "Cookie")
		} else {
			vals.set(h, "Cookie", fw.cookie)
		}
	}
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

// keepTrusted copies what a trusted proxy said about the original request
// over what SetXForwarded derived from the connection, when it is well
// formed.
func keepTrusted(in, out http.Header) {
	if v := in.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
		out["X-Forwarded-Proto"] = []string{v}
	}
	if v := in.Get("X-Forwarded-Host"); v != "" {
		if _, err := canonical.Host(v); err == nil {
			out["X-Forwarded-Host"] = []string{v}
		}
	}
	for _, k := range []string{"X-Forwarded-Port", "X-Real-Ip"} {
		if v := in[k]; len(v) == 1 && headerSafe(v[0]) {
			out[k] = v
		}
	}
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

// trustedProxies are the networks whose forwarding headers are believed.
type trustedProxies []netip.Prefix

func compileTrustedProxies(list []string, ps *problems) trustedProxies {
	var t trustedProxies
	for i, s := range list {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an address or CIDR such as 10.0.0.0/8 or 127.0.0.1", s)
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if pfx.Bits() == 0 {
			ps.add(fmt.Sprintf("trusted_proxies[%d]", i), "%s trusts every address, so any client could claim to be anyone's proxy; list your edge proxies' networks", s)
			continue
		}
		t = append(t, pfx.Masked())
	}
	return t
}

// contains reports whether remoteAddr (host:port, as in
// http.Request.RemoteAddr) is a trusted proxy.
func (t trustedProxies) contains(remoteAddr string) bool {
	if len(t) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
