package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/proxy/canonical"
)

// authPath is the forward-auth endpoint: an edge proxy (nginx auth_request,
// Caddy forward_auth, Traefik forwardAuth) asks it whether to let a request
// through, and copies the identity headers of its answer to the upstream.
const authPath = "/oauth2/auth"

// signInHeader carries, on a 401 from authPath, the URL that signs the
// person in and returns them to the original request, so that an edge proxy
// that cannot percent-encode (nginx) need not build it.
const signInHeader = "X-Auth-Request-Redirect"

// originalRequest is the request an edge proxy asks about.
type originalRequest struct {
	method, scheme, host, rawPath, rawQuery string
}

// forwardAuth handles authPath. It answers 200 with identity headers when
// the original request may pass, 401 without a usable session, 403 when the
// route's policy refuses, and 400 when the original request is missing,
// malformed or ambiguous, or was named by an untrusted client. With
// ?redirect=true, browser navigations without a session get a 302 to sign
// in instead of a 401, for edges that hand the answer to the browser as it
// is (Traefik, Caddy).
func (p *Proxy) forwardAuth(w http.ResponseWriter, r *http.Request, c *compiled) error {
	o, err := p.originalRequest(r, c)
	if err != nil {
		return err
	}
	t, err := c.resolve(o.method, o.host, o.rawPath)
	if pe := ambiguous(err); pe != nil {
		return pe
	}
	switch {
	case errors.Is(err, errNoRoute):
		return &pages.Error{Status: http.StatusForbidden, Kind: "no_route", Code: "access_denied",
			Cause: fmt.Errorf("forward-auth: no route for %s%s", t.host, t.path)}
	case t.route == nil:
		// The edge sends the proxy's own paths to the app instead of to
		// the proxy; saying yes would let anyone reach the app there.
		return &pages.Error{Status: http.StatusBadRequest, Kind: "forward_auth",
			Detail: "The edge proxy asks about " + t.path + ", a path of the sign-in proxy itself: it must send " + reservedPrefix + " to the sign-in proxy, not to the application.",
			Cause:  fmt.Errorf("forward-auth for the reserved path %s", t.path)}
	case t.exemption != "":
		if p.log.Enabled(r.Context(), slog.LevelDebug) {
			p.log.DebugContext(r.Context(), "forward-auth: no sign-in needed", "route", t.route.name, "rule", t.exemption, "method", o.method, "path", t.path)
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	f := &t.route.forward
	value := p.sessionCookie(r)
	s, err := p.authenticate(w, r, value, f.tokens() != 0, false)
	if value == "" {
		s, err = p.bearerInstead(r, c.bearer, s, err)
		if p.bearerFailed(w, r, err) {
			return nil
		}
	}
	if err != nil {
		var se *storeError
		if errors.As(err, &se) {
			p.unauthenticated(w, r, c, &t, err)
			return nil
		}
		p.log.DebugContext(r.Context(), "forward-auth: no usable session", "path", t.path, "reason", err.Error())
		signIn := p.signInURL(o)
		if r.URL.Query().Get("redirect") == "true" && browserNavigation(o.method, r.Header) {
			redirect(w, signIn)
			return nil
		}
		w.Header().Set(signInHeader, signIn)
		p.unauthorized(w, r, err.Error())
		return nil
	}
	httpx.RecordOf(r.Context()).SetUser(s.Subject)
	if d, by := p.authorize(r.Context(), &t, &s.Identity); !d.Allowed {
		p.forbidden(w, r, by, s, d, o.url())
		return nil
	}
	h := w.Header()
	pages.SetHeaders(h)
	vals := make(headerValues, 0, len(f.headers)+2)
	setIdentity(h, f, s, &vals)
	w.WriteHeader(http.StatusOK)
	return nil
}

// url is the original request's URL.
func (o originalRequest) url() string {
	u := o.scheme + "://" + o.host + o.rawPath
	if o.rawQuery != "" {
		u += "?" + o.rawQuery
	}
	return u
}

// signInURL starts a sign-in that returns to the original request.
func (p *Proxy) signInURL(o originalRequest) string {
	return strings.TrimSuffix(p.cfg.PublicURL.String(), "/") + startPath + "?rd=" + url.QueryEscape(o.url())
}

// The headers in which edge proxies name the original request.
var (
	// Traefik, Caddy (and oauth2-proxy's nginx examples).
	forwardedRequestHeaders = []string{"X-Forwarded-Uri", "X-Forwarded-Method"}
	// nginx, as configured in deploy/nginx.
	originalRequestHeaders = []string{"X-Original-Url", "X-Original-Method"}
)

// originalRequest reads the request an edge proxy asks about. Only a
// trusted proxy may name it, and it must use one family of headers: a client
// that adds X-Original-URL to a request that Traefik describes with
// X-Forwarded-Uri must not get to choose which one counts.
func (p *Proxy) originalRequest(r *http.Request, c *compiled) (originalRequest, error) {
	fwd, orig := anyHeader(r.Header, forwardedRequestHeaders), anyHeader(r.Header, originalRequestHeaders)
	bad := func(msg string) error {
		return &pages.Error{Status: http.StatusBadRequest, Kind: "forward_auth", Detail: msg,
			Cause: fmt.Errorf("forward-auth from %s", r.RemoteAddr)}
	}
	for _, name := range append(append([]string{"X-Forwarded-Host", "X-Forwarded-Proto"}, forwardedRequestHeaders...), originalRequestHeaders...) {
		if len(r.Header[name]) > 1 {
			return originalRequest{}, bad(name + " is sent more than once, so it is not clear which request is meant.")
		}
	}
	switch {
	case !fwd && !orig:
		return originalRequest{}, bad("The original request is missing: an edge proxy sends X-Forwarded-Uri, X-Forwarded-Method and X-Forwarded-Host (Traefik, Caddy) or X-Original-URL and X-Original-Method (nginx).")
	case !c.trusted.contains(r.RemoteAddr):
		return originalRequest{}, bad("The original request is named by " + r.RemoteAddr + ", which is not in trusted_proxies; the site's operator should add the edge proxy's address there.")
	case fwd && orig:
		return originalRequest{}, bad("The original request is named twice, by X-Forwarded-Uri and by X-Original-URL; an edge proxy must send one family of headers and clear the other.")
	}
	o := originalRequest{scheme: p.cfg.PublicURL.Scheme}
	var target string
	if orig {
		target, o.method = single(r.Header, "X-Original-Url"), single(r.Header, "X-Original-Method")
		if scheme, authority, rest, ok := splitHTTPURL(target); ok {
			o.scheme, o.host, target = scheme, authority, rest
			if o.host == "" {
				return originalRequest{}, bad(fmt.Sprintf("The original URL %.200q has no host.", target))
			}
		}
	} else {
		target, o.method = single(r.Header, "X-Forwarded-Uri"), single(r.Header, "X-Forwarded-Method")
		if proto := single(r.Header, "X-Forwarded-Proto"); proto == "http" || proto == "https" {
			o.scheme = proto
		}
	}
	if o.host == "" {
		o.host = single(r.Header, "X-Forwarded-Host")
	}
	if o.host == "" {
		o.host = r.Host
	}
	if _, err := canonical.Host(o.host); err != nil {
		return originalRequest{}, bad(fmt.Sprintf("The original host %.100q is not a host name.", o.host))
	}
	target, _, _ = strings.Cut(target, "#")
	o.rawPath, o.rawQuery, _ = strings.Cut(target, "?")
	if o.rawPath == "" && target != "" && target[0] == '?' {
		o.rawPath = "/"
	}
	if !strings.HasPrefix(o.rawPath, "/") {
		return originalRequest{}, bad(fmt.Sprintf("The original URL %.200q is neither a path nor an http(s) URL.", target))
	}
	if o.method != "" && !validMethod(o.method) {
		return originalRequest{}, bad(fmt.Sprintf("The original method %.50q is not an HTTP method.", o.method))
	}
	return o, nil
}

func anyHeader(h http.Header, names []string) bool {
	for _, n := range names {
		if len(h[n]) > 0 {
			return true
		}
	}
	return false
}

// single is the header's value; originalRequest has refused repeated ones.
func single(h http.Header, name string) string {
	if v := h[name]; len(v) == 1 {
		return v[0]
	}
	return ""
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		if c := m[i]; c < '!' || c > '~' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
