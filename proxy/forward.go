package proxy

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse/proxy/canonical"
)

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
	// setsAuthorization is whether the route replaces the client's own
	// Authorization header.
	setsAuthorization bool
}

// compileForwarding reads how a route shapes the requests it forwards. It
// runs after compileIdentity, and after every route's identity headers are
// known to headers.
func compileForwarding(rt *route, rc Route, headers *headerFilter, ps *problems) {
	f := &rt.forward
	for _, name := range sortedKeys(rc.SetHeaders) {
		field := rt.field + ".set_headers." + name
		if msg := checkHeaderName(name, false); msg != "" {
			ps.add(field, "%s", msg)
			continue
		}
		if headers.kind(name) == kindIdentity {
			ps.add(field, "is an identity header, which the proxy removes from every request; set it with identity.headers")
			continue
		}
		if !headerSafe(rc.SetHeaders[name]) {
			ps.add(field, "the value has control characters or surrounding spaces")
			continue
		}
		if f.set == nil {
			f.set = http.Header{}
		}
		f.set[http.CanonicalHeaderKey(name)] = []string{rc.SetHeaders[name]}
	}
	if f.authorization != "" && f.set.Get("Authorization") != "" {
		ps.add(rt.field+".set_headers.Authorization", "conflicts with identity.authorization; keep one")
	}
	f.setsAuthorization = f.authorization != "" || f.set.Get("Authorization") != ""
	if rc.PreserveHost && rc.HostHeader != "" {
		ps.add(rt.field+".host_header", "set either preserve_host or host_header, not both")
	}
	f.preserveHost, f.hostHeader = rc.PreserveHost, rc.HostHeader
	f.stripPrefix = rc.StripPrefix
	if f.stripPrefix {
		f.prefix = []string{rt.prefix}
	}
}

// tokens are the session's tokens that requests need.
func (f *forwarding) tokens() tokenSet {
	var k tokenSet
	if f.tokenHeader || f.authorization == "access_token" {
		k |= keepAccess
	}
	if f.authorization == "id_token" {
		k |= keepID
	}
	return k
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
	// values back the header values rewrite sets, so that setting them
	// allocates nothing for most routes.
	values [8]string
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
		if fw.route.headers.kind(k) != 0 {
			delete(h, k)
		}
	}
	if f.setsAuthorization {
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
	vals := headerValues(fw.values[:0])
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
