package proxy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

func TestShadows(t *testing.T) {
	admins := &policy.Rules{Groups: []string{"admins"}}
	for _, tc := range []struct {
		name   string
		routes []Route
		// want is the shadowed route's field and a word of the message;
		// empty when nothing is shadowed.
		wantField, wantMsg string
		// probe is a request the shadowing route really wins, checked
		// against the proxy's routing.
		probeHost, probePath string
		probeWinner          int
	}{
		{
			name: "public host route swallows a protected path on any host",
			routes: []Route{
				{Host: "app.example.com", Path: "/", Public: true},
				{Path: "/admin", Allow: admins},
			},
			wantField: "routes[1]", wantMsg: "public, so they need no sign-in",
			probeHost: "app.example.com", probePath: "/admin/users", probeWinner: 0,
		},
		{
			name: "public wildcard route swallows a protected path on any host",
			routes: []Route{
				{Host: "*.example.com", Path: "/docs", Public: true},
				{Path: "/docs/internal"},
			},
			wantField: "routes[1]", wantMsg: "public",
			probeHost: "wiki.example.com", probePath: "/DOCS/internal/x", probeWinner: 0,
		},
		{
			name: "public exact host below a protected wildcard",
			routes: []Route{
				{Host: "*.example.com", Path: "/", Allow: admins},
				{Host: "status.example.com", Path: "/", Public: true},
			},
			wantField: "routes[0]", wantMsg: "public",
			probeHost: "status.example.com", probePath: "/", probeWinner: 1,
		},
		{
			name: "skip_auth of a host route covers a protected path",
			routes: []Route{
				{Host: "app.example.com", Path: "/", SkipAuth: []SkipRule{{Methods: []string{"GET"}, Path: "/admin/.*"}}},
				{Path: "/admin", Allow: admins},
			},
			wantField: "routes[1]", wantMsg: "skip_auth[0] (GET ^(?:/admin/.*)$)",
			probeHost: "app.example.com", probePath: "/admin/x", probeWinner: 0,
		},
		{
			name: "skip_auth in another case still covers it",
			routes: []Route{
				{Host: "app.example.com", Path: "/", SkipAuth: []SkipRule{{Methods: []string{"GET"}, Path: "/ADMIN(/.*)?"}}},
				{Path: "/admin"},
			},
			wantField: "routes[1]", wantMsg: "skip_auth[0]",
			probeHost: "app.example.com", probePath: "/ADMIN", probeWinner: 0,
		},
		{
			name: "protected host route overrides a path's allow",
			routes: []Route{
				{Host: "admin.example.com", Path: "/", Allow: &policy.Rules{Users: []string{"root"}}},
				{Path: "/admin", Allow: admins},
			},
			wantField: "routes[1]", wantMsg: "allow and deny do not apply",
			probeHost: "admin.example.com", probePath: "/admin", probeWinner: 0,
		},
		{
			name: "skip_auth elsewhere leaves a route without rules alone",
			routes: []Route{
				{Host: "app.example.com", Path: "/", SkipAuth: []SkipRule{{Methods: []string{"GET"}, Path: "/static/.*"}}},
				{Path: "/admin"},
			},
		},
		{
			name: "public path nested in a protected one is a carve-out",
			routes: []Route{
				{Path: "/app", Allow: admins},
				{Path: "/app/static", Public: true},
			},
		},
		{
			name: "public route on no host loses to a host route",
			routes: []Route{
				{Path: "/", Public: true},
				{Host: "app.example.com", Path: "/admin", Allow: admins},
			},
		},
		{
			name: "hosts that do not overlap",
			routes: []Route{
				{Host: "www.example.org", Path: "/", Public: true},
				{Host: "*.example.com", Path: "/admin", Allow: admins},
			},
		},
		{
			name: "deeper host route takes only its own subtree",
			routes: []Route{
				{Host: "app.example.com", Path: "/admin/public", Public: true},
				{Path: "/admin", Allow: admins},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Shadows(Config{Routes: tc.routes})
			if tc.wantField == "" {
				if len(got) > 0 {
					t.Fatalf("got %v, want no shadowed route", got)
				}
				return
			}
			if len(got) != 1 || got[0].Field != tc.wantField || !strings.Contains(got[0].Msg, tc.wantMsg) {
				t.Fatalf("got %v, want one problem at %s saying %q", got, tc.wantField, tc.wantMsg)
			}
			var ps problems
			c := &compiled{routes: compileRoutes(tc.routes, &ps)}
			target, err := c.resolve("GET", tc.probeHost, tc.probePath)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.routes.inOrder[tc.probeWinner]; target.route != want {
				t.Errorf("GET %s%s: routing picked %s, but the warning says %s wins", tc.probeHost, tc.probePath, target.route.field, want.field)
			}
		})
	}
}

func TestMayMatchUnder(t *testing.T) {
	for _, tc := range []struct {
		re, prefix string
		want       bool
	}{
		{`^(?:/.*)$`, "/admin", true},
		{`^(?:/admin)$`, "/admin", true},
		{`^(?:/admin/health)$`, "/admin", true},
		{`^(?:/administrator)$`, "/admin", false}, // not below /admin: another segment
		{`^(?:/static/.*)$`, "/admin", false},
		{`^(?:/(static|admin)/.*)$`, "/admin", true},
		{`^(?:/Admin/.*)$`, "/admin", true},
		{`^(?:/api/v[0-9]+/public)$`, "/api", true},
		{`^(?:/api/v[0-9]+/public)$`, "/", true},
		{`^(?:/x)$`, "/", true},
	} {
		if got := mayMatchUnder(tc.re, tc.prefix); got != tc.want {
			t.Errorf("mayMatchUnder(%q, %q) = %v, want %v", tc.re, tc.prefix, got, tc.want)
		}
	}
}
