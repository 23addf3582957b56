package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// policyEnv is a proxy with one upstream per route, so tests can tell which
// route served a request:
//
//	/            root    every signed-in person
//	/admin       admin   group admins only
//	/admin/assets assets  public
//	/public      public  no sign-in
//	/api         api     GET /api/health needs no sign-in; deny group contractors
//	admin.example.com    hostAdmin  user root only
//	*.apps.example.com   apps       email domain example.com
type policyEnv struct {
	*env
	ups map[string]*testUpstream
}

func newPolicyEnv(t testing.TB, options ...func(*Config)) *policyEnv {
	ups := map[string]*testUpstream{}
	for _, n := range []string{"root", "admin", "assets", "public", "api", "hostAdmin", "apps"} {
		ups[n] = newTestUpstream(t)
	}
	e := newEnv(t, append([]func(*Config){func(c *Config) {
		c.Cookie.Domain = "example.com"
		c.AllowedRedirectDomains = []string{".example.com"}
		c.Routes = []Route{
			{Path: "/", Upstream: ups["root"].srv.URL},
			{Name: "admin", Path: "/admin", Upstream: ups["admin"].srv.URL, Allow: &policy.Rules{Groups: []string{"admins"}}},
			{Path: "/admin/assets", Upstream: ups["assets"].srv.URL, Public: true},
			{Path: "/public", Upstream: ups["public"].srv.URL, Public: true},
			{
				Path: "/api", Upstream: ups["api"].srv.URL,
				SkipAuth: []SkipRule{{Methods: []string{"GET", "HEAD"}, Path: "/api/health"}, {Methods: []string{"GET"}, Path: `/api/docs/.*\.html`}},
				Deny:     &policy.Rules{Groups: []string{"contractors"}},
			},
			{Host: "admin.example.com", Path: "/", Upstream: ups["hostAdmin"].srv.URL, Allow: &policy.Rules{Users: []string{"root"}}},
			{Host: "*.apps.example.com", Path: "/", Upstream: ups["apps"].srv.URL, Allow: &policy.Rules{EmailDomains: []string{"example.com"}}},
		}
	}}, options...)...)
	return &policyEnv{env: e, ups: ups}
}

// rawRequest sends the request text as is over a new connection to the
// proxy, so nothing between the test and the proxy tidies it, and returns
// the status.
func rawRequest(t *testing.T, addr, text string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging, not a measurement
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", text, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRoutingAndPolicies sends hostile and ordinary requests, byte for byte
// as written, and checks the status and which upstream (if any) got what
// path. The signed-in person is user-42, in groups eng and ops, with a
// verified ada@example.com.
func TestRoutingAndPolicies(t *testing.T) {
	e := newPolicyEnv(t)
	cookie := cookieHeader(e.mint(e.testSession()))
	tests := []struct {
		name     string
		method   string
		target   string // the request-target, as sent
		host     string // default: the proxy's own
		signedIn bool
		want     int
		upstream string // which upstream gets it, for 200
		path     string // the path it gets; default target's path
	}{
		// Longest prefix on segment boundaries, case-insensitively.
		{name: "root", target: "/", signedIn: true, want: 200, upstream: "root"},
		{name: "a prefix is not a segment", target: "/administrator", signedIn: true, want: 200, upstream: "root"},
		{name: "admin refused", target: "/admin/users", signedIn: true, want: 403},
		{name: "admin exact", target: "/admin", signedIn: true, want: 403},
		// A case-insensitive upstream (IIS, macOS) would serve /admin at
		// /ADMIN; routing ignores case so the admin policy still applies.
		{name: "admin in upper case", target: "/ADMIN/users", signedIn: true, want: 403},
		{name: "admin in mixed case", target: "/aDmIn", signedIn: true, want: 403},
		// Java's equalsIgnoreCase takes dotless ı and dotted İ for i; Go's
		// EqualFold does not, so routing folds them itself.
		{name: "admin with a dotless i", target: "/adm%C4%B1n/x", signedIn: true, want: 403},
		{name: "admin with a dotted capital I", target: "/adm%C4%B0n/x", signedIn: true, want: 403},
		{name: "non-ASCII path", target: "/%E2%84%AAeys", signedIn: true, want: 200, upstream: "root", path: "/\u212aeys"},
		// A public route inside a restricted one, in another case: a
		// case-sensitive upstream reads it as the restricted route's, so
		// that route's policy applies as well.
		{name: "public inside admin", target: "/admin/assets/logo.png", want: 200, upstream: "assets"},
		{name: "public inside admin, other case, no session", target: "/admin/ASSETS/x", want: 401},
		{name: "public inside admin, other case, signed in", target: "/admin/ASSETS/x", signedIn: true, want: 403},
		{name: "public inside admin, long s", target: "/admin/a%C5%BFsets/x", signedIn: true, want: 403},
		// Pomerium CVE-2023-33189 and the dot-segment family: the route
		// is chosen on the path after dot segments are removed.
		{name: "dot segments into admin", target: "/public/../admin/users", signedIn: true, want: 403},
		{name: "encoded dot segments into admin", target: "/public/%2e%2e/admin/users", signedIn: true, want: 403},
		{name: "upper-case encoded dots into admin", target: "/public/%2E%2E/admin", signedIn: true, want: 403},
		{name: "double slash before dots", target: "/public//../admin/", signedIn: true, want: 403},
		{name: "dots above the root", target: "/../../admin", signedIn: true, want: 403},
		{name: "dot segments out of admin", target: "/admin/../x", signedIn: true, want: 200, upstream: "root", path: "/x"},
		{name: "collapsed slashes", target: "//admin//users", signedIn: true, want: 403},
		{name: "encoded letters", target: "/%61dmin/users", signedIn: true, want: 403},
		// Ambiguous forms are refused rather than guessed at.
		{name: "encoded slash", target: "/public%2F..%2Fadmin", want: 400},
		{name: "encoded slash in admin", target: "/admin%2Fusers", signedIn: true, want: 400},
		{name: "encoded backslash", target: "/public/..%5Cadmin", want: 400},
		{name: "raw backslash", target: "/public/..\\admin", want: 400},
		// Tomcat/Jetty path parameters (Orange Tsai, "Breaking Parser
		// Logic", Black Hat 2018: /..;/).
		{name: "path parameter", target: "/public/..;/admin", want: 400},
		{name: "encoded semicolon", target: "/admin%3Bx/users", signedIn: true, want: 400},
		{name: "NUL", target: "/public%00/../admin", want: 400},
		{name: "double encoding", target: "/public/%252e%252e/admin", want: 400},
		{name: "overlong slash", target: "/public%C0%AF..%C0%AFadmin", want: 400},
		{name: "trailing dot (Windows)", target: "/admin./users", signedIn: true, want: 400},
		{name: "trailing encoded space (Windows)", target: "/admin%20/users", signedIn: true, want: 400},
		// (OPTIONS * is answered by net/http itself and reaches no handler.)
		{name: "asterisk form", target: "*", want: 400},
		// The upstream gets the canonical path, not the raw one.
		{name: "canonical path upstream", target: "/x/./y//z/../w?q=1", signedIn: true, want: 200, upstream: "root", path: "/x/y/w"},
		{name: "decoded path upstream", target: "/caf%C3%A9", signedIn: true, want: 200, upstream: "root", path: "/café"},

		// Public routes: exactly as written, case included.
		{name: "public", target: "/public/page", want: 200, upstream: "public"},
		{name: "public root", target: "/public", want: 200, upstream: "public"},
		{name: "public with a query naming admin", target: "/public?rd=/admin", want: 200, upstream: "public", path: "/public"},
		{name: "public in another case needs sign-in", target: "/PUBLIC/page", want: 401},
		{name: "not under public", target: "/publicity", want: 401},
		{name: "out of public by dots", target: "/public/../x", want: 401},

		// skip_auth: anchored, on the path alone, for the listed methods
		// (oauth2-proxy CVE-2025-54576: rules matched the query too).
		{name: "skip_auth", target: "/api/health", want: 200, upstream: "api"},
		{name: "skip_auth HEAD", method: "HEAD", target: "/api/health", want: 200, upstream: "api"},
		{name: "skip_auth with a query", target: "/api/health?x=1", want: 200, upstream: "api", path: "/api/health"},
		{name: "skip_auth pattern in the query", target: "/api/users?/api/health", want: 401},
		{name: "skip_auth pattern after a fragment mark", target: "/api/users%23/api/health", want: 401},
		{name: "skip_auth unlisted method", method: "POST", target: "/api/health", want: 401},
		{name: "skip_auth lower-case method", method: "get", target: "/api/health", want: 401},
		{name: "skip_auth longer path", target: "/api/healthz", want: 401},
		{name: "skip_auth trailing slash", target: "/api/health/", want: 401},
		{name: "skip_auth then dots", target: "/api/health/../users", want: 401},
		{name: "skip_auth in another case", target: "/api/HEALTH", want: 401},
		{name: "skip_auth trailing dot", target: "/api/health.", want: 400},
		{name: "skip_auth regexp", target: "/api/docs/intro.html", want: 200, upstream: "api"},
		{name: "skip_auth regexp does not cross segments by dots", target: "/api/docs/../users/x.html", want: 401},
		{name: "deny wins for api", target: "/api/users", signedIn: true, want: 200, upstream: "api"},

		// Hosts: exact before wildcard before none; case, port and a
		// trailing dot do not matter.
		{name: "host route", host: "admin.example.com", target: "/", signedIn: true, want: 403},
		{name: "host route upper case", host: "ADMIN.Example.com", target: "/", signedIn: true, want: 403},
		{name: "host route trailing dot", host: "admin.example.com.", target: "/", signedIn: true, want: 403},
		{name: "host route with port", host: "admin.example.com:8443", target: "/x", signedIn: true, want: 403},
		{name: "absolute-form names the host", target: "http://admin.example.com/x", signedIn: true, want: 403},
		{name: "wildcard host", host: "wiki.apps.example.com", target: "/", signedIn: true, want: 200, upstream: "apps"},
		{name: "wildcard is one label", host: "a.b.apps.example.com", target: "/", signedIn: true, want: 200, upstream: "root"},
		{name: "wildcard is not the apex", host: "apps.example.com", target: "/", signedIn: true, want: 200, upstream: "root"},
		{name: "look-alike host", host: "admin.example.com.evil", target: "/", signedIn: true, want: 200, upstream: "root"},
		{name: "host with user info", host: "admin.example.com@evil", target: "/", signedIn: true, want: 400},
		// Never an open proxy: an absolute URL picks a route, never the
		// upstream.
		{name: "absolute-form elsewhere", target: "http://evil.example/steal", signedIn: true, want: 200, upstream: "root", path: "/steal"},
		{name: "CONNECT", method: "CONNECT", target: "evil.example:443", signedIn: true, want: 400},
		// HTTP/1.0 may omit Host: only routes without a host match.
		{name: "no Host", host: "-", target: "/public/x", want: 200, upstream: "public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			host := tt.host
			if host == "" {
				host = e.srv.Listener.Addr().String()
			}
			before := map[string]int{}
			for n, u := range e.ups {
				before[n] = u.count()
			}
			req := method + " " + tt.target + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: application/json\r\n"
			if host == "-" {
				req = method + " " + tt.target + " HTTP/1.0\r\nAccept: application/json\r\n"
			}
			if tt.signedIn {
				req += "Cookie: " + cookie + "\r\n"
			}
			got := rawRequest(t, e.srv.Listener.Addr().String(), req+"Connection: close\r\n\r\n")
			if got != tt.want {
				t.Fatalf("%s %s (Host %s): got %d, want %d", method, tt.target, host, got, tt.want)
			}
			for n, u := range e.ups {
				reached := u.count() > before[n]
				if reached != (n == tt.upstream) {
					t.Fatalf("upstream %s reached: %v, want only %q reached", n, reached, tt.upstream)
				}
			}
			if tt.upstream == "" {
				return
			}
			want := tt.path
			if want == "" {
				want, _, _ = strings.Cut(tt.target, "?")
			}
			if got := e.ups[tt.upstream].last(t).URL.Path; got != want {
				t.Errorf("upstream path: got %q, want %q", got, want)
			}
		})
	}
}

// FuzzRouteMatch checks routing against a plain reading of its rules for
// any host and path: the chosen route's host and prefix cover the request,
// no more specific route does, exemptions apply only to the exact case,
// and the upstream path is the canonical one (minus a stripped prefix).
func FuzzRouteMatch(f *testing.F) {
	e := newPolicyEnv(f)
	routes := e.proxy.state.Load().routes.inOrder
	for _, s := range []string{"/admin/x", "/ADMIN", "/public/../admin", "/api/health", "/x/%2e%2e/admin", "/a%2Fb", "/publicity", "/Public/x"} {
		f.Add("GET", "admin.example.com", s)
		f.Add("POST", "x.apps.example.com.", s)
	}
	f.Fuzz(func(t *testing.T, method, host, raw string) {
		tgt, err := e.proxy.state.Load().resolve(method, host, raw)
		if err != nil || tgt.route == nil {
			return
		}
		coversBy := func(rt *route, eq func(a, b string) bool) bool {
			if !rt.matchesHost(tgt.host) {
				return false
			}
			segs := strings.Split(strings.Trim(tgt.path, "/"), "/")
			if len(rt.segs) > len(segs) {
				return false
			}
			for i, s := range rt.segs {
				if !eq(s, segs[i]) {
					return false
				}
			}
			return true
		}
		covers := func(rt *route) bool { return coversBy(rt, sameFold) }
		if !covers(tgt.route) {
			t.Fatalf("%s %s%s: routed to %s, which does not cover it", method, host, raw, tgt.route.field)
		}
		for _, rt := range routes {
			if rt != tgt.route && covers(rt) && rt.specificity() > tgt.route.specificity() {
				t.Fatalf("%s %s%s: routed to %s, but the more specific %s covers it", method, host, raw, tgt.route.field, rt.field)
			}
		}
		if tgt.exemption != "" && !coversBy(tgt.route, exactly) {
			t.Fatalf("%s %s: exempt (%s) by the prefix %s in another case", method, raw, tgt.exemption, tgt.route.prefix)
		}
		// Where the case differs, the route an exact match picks must be
		// the chosen one or also decide.
		if !coversBy(tgt.route, exactly) {
			for _, rt := range routes {
				if coversBy(rt, exactly) && rt != tgt.route && rt != tgt.exact && rt.specificity() > specificityOf(tgt.exact) {
					t.Fatalf("%s %s: %s covers it as written, but neither decides", method, raw, rt.field)
				}
			}
		}
		if strings.HasPrefix(tgt.exemption, "skip_auth") && method != "GET" && method != "HEAD" {
			t.Fatalf("%s %s: exempt for an unlisted method", method, raw)
		}
	})
}

func specificityOf(rt *route) int {
	if rt == nil {
		return -1
	}
	return rt.specificity()
}
