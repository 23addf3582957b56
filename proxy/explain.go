package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/proxy/canonical"
	"github.com/gatehouse/gatehouse/proxy/policy"
)

// Explanation is what the proxy would do with one request from one signed-in
// person, and why.
type Explanation struct {
	Method    string
	Request   string // as given
	URL       string // canonical, without the query
	Route     string // the route in words; "" when none matches
	Exemption string // why no sign-in is needed, or ""
	// Decision is the route policy's, when it was asked.
	Decision *policy.Decision
	// Status is what the proxy answers: 200 when it forwards the request,
	// 400, 403 or 404 otherwise. ForwardAuth is what /oauth2/auth answers
	// about it.
	Status      int
	ForwardAuth int
	Why         string
}

// Explain says what the proxy would do with a request for rawURL (an
// absolute URL, or a path on PublicURL's host) from the person id. It runs
// the same routing and policy code as ServeHTTP and /oauth2/auth, so the two
// cannot disagree.
func (p *Proxy) Explain(ctx context.Context, method, rawURL string, id *policy.Identity) Explanation {
	host, rawPath := p.cfg.PublicURL.Host, rawURL
	scheme := p.cfg.PublicURL.Scheme
	if s, authority, rest, ok := splitHTTPURL(rawURL); ok {
		scheme, host, rawPath = s, authority, rest
	}
	rawPath, _, _ = strings.Cut(rawPath, "#")
	rawPath, _, _ = strings.Cut(rawPath, "?")
	if rawPath == "" {
		rawPath = "/"
	}
	e := Explanation{Method: method, Request: rawURL}
	t, err := p.state.Load().resolve(method, host, rawPath)
	if t.path != "" {
		canonHost, _ := canonical.Host(host)
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			canonHost += host[i:]
		}
		e.URL = scheme + "://" + canonHost + t.path
	}
	var ce *canonical.Error
	switch {
	case errors.As(err, &ce):
		e.Status, e.ForwardAuth, e.Why = http.StatusBadRequest, http.StatusBadRequest, "the address is ambiguous: "+ce.Reason
		return e
	case errors.Is(err, errNoRoute):
		e.Status, e.ForwardAuth, e.Why = http.StatusNotFound, http.StatusForbidden, "no route matches"
		return e
	case t.route == nil:
		e.Status, e.ForwardAuth, e.Why = http.StatusOK, http.StatusBadRequest, "the path belongs to the proxy itself; an edge proxy must send it to the proxy unchecked"
		return e
	}
	e.Route = t.route.describe()
	if t.exact != nil {
		e.Route += "; written in this case, the path is also " + t.exact.describe() + ", whose policy applies too"
	}
	e.Status, e.ForwardAuth = http.StatusOK, http.StatusOK
	if t.route.proxy == nil {
		e.Status = http.StatusNotFound
	}
	if t.exemption != "" {
		e.Exemption = t.exemption
		e.Why = "no sign-in needed (" + t.exemption + ")"
		return e
	}
	d, by := p.authorize(ctx, &t, id)
	e.Decision = &d
	rule := d.Rule
	if by != t.route {
		rule = by.field + " " + rule
	}
	if !d.Allowed {
		e.ForwardAuth = http.StatusForbidden
		if t.route.proxy != nil {
			e.Status = http.StatusForbidden
		}
		e.Why = "refused by rule " + rule + ": " + d.Reason()
		return e
	}
	e.Why = "allowed by rule " + rule + ": " + d.Reason()
	if t.route.proxy == nil {
		e.Why += "; the route has no upstream, so only /oauth2/auth answers for it"
	}
	return e
}

// String lays e out for people, one fact per line.
func (e Explanation) String() string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-13s %s\n", k+":", v)
		}
	}
	line("request", e.Method+" "+e.Request)
	line("canonical", e.URL)
	line("route", e.Route)
	line("decision", e.Why)
	proxy := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Status == http.StatusOK && e.Route != "" {
		proxy = "forwards it to the route's upstream"
	}
	line("proxy", proxy)
	line("forward-auth", fmt.Sprintf("%d %s", e.ForwardAuth, http.StatusText(e.ForwardAuth)))
	return b.String()
}
