package proxy

import (
	"cmp"
	"fmt"
	"net/http/httputil"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/proxy/canonical"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// route is a compiled Route.
type route struct {
	name  string
	field string // "routes[i]", for messages about the configuration

	host     string // canonical; "" for any host
	wildcard bool   // host is ".example.com", from "*.example.com"
	prefix   string // canonical, without a trailing slash except for "/"
	segs     []string

	public bool
	skip   []skipRule
	policy *policy.Compiled

	// upstream is as configured, for messages; proxy is nil for a
	// forward-auth-only route.
	upstream string
	proxy    *httputil.ReverseProxy
	forward  forwarding
	// headers is the filter of the state the route belongs to, for
	// rewrite to remove what clients must not send.
	headers *headerFilter
	// metrics count the route's requests; nil when metrics are off.
	metrics *httpx.RouteMetrics
}

// skipRule is a compiled SkipRule.
type skipRule struct {
	methods []string
	path    *regexp.Regexp
}

// routeTable finds the route for a request.
type routeTable struct {
	routes   []*route // most specific first
	inOrder  []*route // as configured
	anyHosts bool     // whether some route names a host
}

// specificity orders routes: an exact host before a wildcard before none,
// then more path segments before fewer.
func (rt *route) specificity() int {
	hostClass := 0
	switch {
	case rt.wildcard:
		hostClass = 1
	case rt.host != "":
		hostClass = 2
	}
	return hostClass<<16 | len(rt.segs)
}

// match returns the most specific route for the canonical host and path,
// or nil. Prefixes are compared ignoring case, by sameFold.
func (t *routeTable) match(host, path string) *route {
	return t.find(host, path, sameFold)
}

// matchExact is match with prefixes compared as written.
func (t *routeTable) matchExact(host, path string) *route {
	return t.find(host, path, exactly)
}

func (t *routeTable) find(host, path string, eq func(a, b string) bool) *route {
	for _, rt := range t.routes {
		if rt.matchesHost(host) && matchSegments(path, rt.segs, eq) {
			return rt
		}
	}
	return nil
}

// sameFold reports whether a and b are the same ignoring case, the way any
// upstream might ignore it: Unicode simple folding (so "ſ" is "s" and the
// Kelvin sign is "k"), and also equal upper or lower case of each
// character, as Java's equalsIgnoreCase compares (so "ı" and "İ" are "i").
func sameFold(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb && unicode.ToUpper(ra) != unicode.ToUpper(rb) && unicode.ToLower(ra) != unicode.ToLower(rb) && !strings.EqualFold(a[:na], b[:nb]) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == b
}

func (rt *route) matchesHost(host string) bool {
	switch {
	case rt.host == "":
		return true
	case rt.wildcard:
		// One label below: "a.example.com", not "example.com" or "a.b.example.com".
		label, ok := strings.CutSuffix(host, rt.host)
		return ok && label != "" && !strings.Contains(label, ".")
	}
	return host == rt.host
}

// matchSegments reports whether path starts with the segments segs, as
// compared by eq.
func matchSegments(path string, segs []string, eq func(a, b string) bool) bool {
	_, ok := cutSegments(path, segs, eq)
	return ok
}

// cutSegments removes the segments segs from the start of path, returning
// the rest (which starts with "/" or is empty).
func cutSegments(path string, segs []string, eq func(a, b string) bool) (string, bool) {
	rest := path
	for _, s := range segs {
		if len(rest) < 2 || rest[0] != '/' {
			return "", false
		}
		end := strings.IndexByte(rest[1:], '/') + 1
		if end == 0 {
			end = len(rest)
		}
		if !eq(rest[1:end], s) {
			return "", false
		}
		rest = rest[end:]
	}
	return rest, true
}

func exactly(a, b string) bool { return a == b }

// exemption says why a request needs no sign-in, or "" when it does.
// Exemptions match the path exactly as written in the configuration,
// case included: a case-insensitive upstream may treat /Static as /static,
// but a case-sensitive one may serve something else there.
func (rt *route) exemption(method, path string) string {
	if !matchSegments(path, rt.segs, exactly) {
		return ""
	}
	if rt.public {
		return "public route"
	}
	for i, s := range rt.skip {
		if slices.Contains(s.methods, method) && s.path.MatchString(path) {
			return fmt.Sprintf("skip_auth[%d]", i)
		}
	}
	return ""
}

// upstreamPath is the path to send upstream for the canonical path.
func (rt *route) upstreamPath(path string) string {
	if !rt.forward.stripPrefix {
		return path
	}
	rest, _ := cutSegments(path, rt.segs, sameFold)
	if rest == "" {
		return "/"
	}
	return rest
}

// describe is the route in words, for explain.
func (rt *route) describe() string {
	host := cmp.Or(rt.host, "any host")
	if rt.wildcard {
		host = "*" + rt.host
	}
	to := "forward-auth only"
	if rt.proxy != nil {
		to = "→ " + rt.upstream
	}
	return fmt.Sprintf("%s %q (%s, path %s) %s", rt.field, rt.name, host, rt.prefix, to)
}

// compileRoutes checks and prepares the routes. Problems are added to ps;
// the upstream proxies are built by the caller.
func compileRoutes(cfg []Route, ps *problems) *routeTable {
	t := &routeTable{}
	if len(cfg) == 0 {
		// A pure forward-auth service: every signed-in person passes.
		cfg = []Route{{Name: "default"}}
	}
	var valid []*route // routes with a valid path, for the duplicate check
	for i, rc := range cfg {
		field := fmt.Sprintf("routes[%d]", i)
		rt := &route{field: field}
		pathOK := rt.compileMatch(rc, ps)
		rt.compileAccess(rc, ps)
		rt.compileIdentity(rc, ps)
		rt.name = cmp.Or(rc.Name, rc.Host+rt.prefix)
		for _, other := range valid {
			if pathOK && other.host == rt.host && other.wildcard == rt.wildcard && slices.EqualFunc(other.segs, rt.segs, sameFold) {
				ps.add(field+".path", "%s on %s is also %s; each host and path may be routed once (paths are compared ignoring case)", rc.Path, cmp.Or(rc.Host, "every host"), other.field)
			}
		}
		for _, other := range t.inOrder {
			if rc.Name != "" && other.name == rc.Name {
				ps.add(field+".name", "%q is also the name of %s", rc.Name, other.field)
			}
		}
		if pathOK {
			valid = append(valid, rt)
		}
		t.inOrder = append(t.inOrder, rt)
		t.anyHosts = t.anyHosts || rt.host != ""
	}
	t.routes = slices.Clone(t.inOrder)
	slices.SortStableFunc(t.routes, func(a, b *route) int { return b.specificity() - a.specificity() })
	return t
}

// compileMatch reads the host and path a route matches, and reports
// whether the path was valid.
func (rt *route) compileMatch(rc Route, ps *problems) bool {
	pathOK := false
	if h := rc.Host; h != "" {
		name, isWildcard := strings.CutPrefix(h, "*.")
		canon, err := canonical.Host(name)
		switch {
		case err != nil || strings.ContainsAny(name, ":*[") || canon != strings.ToLower(name):
			ps.add(rt.field+".host", "%q is not a host name such as app.example.com or *.example.com (no port, no scheme)", h)
		case isWildcard && !strings.Contains(canon, "."):
			ps.add(rt.field+".host", "%q would match top-level names; use *.example.com or deeper", h)
		case isWildcard:
			rt.host, rt.wildcard = "."+canon, true
		default:
			rt.host = canon
		}
	}
	switch p := rc.Path; {
	case p == "":
		rt.prefix, pathOK = "/", true
	case p[0] != '/':
		ps.add(rt.field+".path", "%q must start with /", p)
	default:
		canon, err := canonical.Path(p)
		switch {
		case err != nil:
			ps.add(rt.field+".path", "%q: %v", p, err)
		case isReserved(canon):
			ps.add(rt.field+".path", "%q is reserved: paths under %s belong to the proxy", p, reservedPrefix)
		case canon != p && canon != p+"/" && canon+"/" != p:
			ps.add(rt.field+".path", "%q is not in canonical form; write %q", p, strings.TrimSuffix(canon, "/"))
		default:
			rt.prefix, pathOK = canon, true
		}
	}
	if rt.prefix != "/" {
		rt.prefix = strings.TrimSuffix(rt.prefix, "/")
	}
	for _, s := range strings.Split(rt.prefix, "/") {
		if s != "" {
			rt.segs = append(rt.segs, s)
		}
	}
	return pathOK
}

// compileAccess reads who may pass a route.
func (rt *route) compileAccess(rc Route, ps *problems) {
	if rc.Public && (rc.Allow != nil || rc.Deny != nil || len(rc.SkipAuth) > 0) {
		ps.add(rt.field+".public", "a public route admits everyone; remove allow, deny and skip_auth, or public")
	}
	rt.public = rc.Public
	compiled, errs := policy.Compile(policy.Policy{Allow: rc.Allow, Deny: rc.Deny})
	for _, e := range errs {
		ps.add(rt.field+"."+e.Field, "%s", e.Msg)
	}
	rt.policy = compiled
	for j, s := range rc.SkipAuth {
		field := fmt.Sprintf("%s.skip_auth[%d]", rt.field, j)
		if len(s.Methods) == 0 {
			ps.add(field+".methods", "list the methods this rule exempts, e.g. [GET, HEAD]; a rule never applies to unlisted methods")
		}
		for k, m := range s.Methods {
			if m == "" || m != strings.ToUpper(m) || strings.ContainsFunc(m, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				ps.add(fmt.Sprintf("%s.methods[%d]", field, k), "%q is not a method such as GET (methods are upper case)", m)
			}
		}
		if !strings.HasPrefix(s.Path, "/") && !strings.HasPrefix(s.Path, "^/") {
			ps.add(field+".path", "%q must start with / (it is matched against the whole path, as if between ^ and $)", s.Path)
			continue
		}
		re, err := regexp.Compile(`^(?:` + strings.TrimSuffix(strings.TrimPrefix(s.Path, "^"), "$") + `)$`)
		if err != nil {
			ps.add(field+".path", "%v", err)
			continue
		}
		rt.skip = append(rt.skip, skipRule{methods: s.Methods, path: re})
	}
}

// isReserved reports whether the canonical path belongs to the proxy.
func isReserved(path string) bool {
	return path == "/oauth2" || strings.HasPrefix(path, reservedPrefix)
}
