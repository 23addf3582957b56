package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// The identity headers the proxy sets. Upstreams may trust them only because
// the proxy removes every incoming copy first.
const (
	headerUser              = "X-Forwarded-User"
	headerEmail             = "X-Forwarded-Email"
	headerPreferredUsername = "X-Forwarded-Preferred-Username"
	headerGroups            = "X-Forwarded-Groups"
)

// route is one configured path prefix and the proxy to its upstream.
type route struct {
	prefix string // cleaned; "/" matches everything
	under  string // prefix + "/", precomputed for matching
	proxy  *httputil.ReverseProxy
}

// forward carries what ServeHTTP worked out for a request to the Rewrite
// hook, through the request's context.
type forward struct {
	session      *session
	cookie       string // the Cookie header for the upstream
	stripCookies bool   // whether cookie replaces the incoming header
	path         string // the cleaned path to send, or "" to send the original
	values       [5]string
}

type forwardKey struct{}

// newRoutes builds one ReverseProxy per route, all sharing one transport
// and one buffer pool.
func (p *Proxy) newRoutes(cfg []Route) ([]*route, error) {
	if len(cfg) == 0 {
		return nil, errors.New("Routes: add at least one route, e.g. {PathPrefix: \"/\", Upstream: http://127.0.0.1:8081}")
	}
	transport := newTransport()
	buffers := &bufferPool{}
	errorLog := slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)
	routes := make([]*route, 0, len(cfg))
	for i, rc := range cfg {
		prefix := rc.PathPrefix
		if prefix == "" || prefix[0] != '/' {
			return nil, fmt.Errorf("Routes[%d]: PathPrefix %q must start with /", i, prefix)
		}
		prefix = path.Clean(prefix)
		if prefix == "/oauth2" || strings.HasPrefix(prefix, reservedPrefix) {
			return nil, fmt.Errorf("Routes[%d]: PathPrefix %q is reserved: %s belongs to the proxy", i, rc.PathPrefix, reservedPrefix)
		}
		u := rc.Upstream
		if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("Routes[%d]: Upstream must be an absolute http or https URL, e.g. http://127.0.0.1:8081", i)
		}
		if slices.ContainsFunc(routes, func(r *route) bool { return r.prefix == prefix }) {
			return nil, fmt.Errorf("Routes[%d]: PathPrefix %q is configured twice", i, rc.PathPrefix)
		}
		target := *u
		routes = append(routes, &route{
			prefix: prefix,
			under:  strings.TrimSuffix(prefix, "/") + "/",
			proxy: &httputil.ReverseProxy{
				Rewrite:        func(pr *httputil.ProxyRequest) { rewrite(pr, &target) },
				ModifyResponse: p.dropOwnSetCookies,
				Transport:      transport,
				BufferPool:     buffers,
				ErrorHandler:   p.upstreamError,
				ErrorLog:       errorLog,
			},
		})
	}
	slices.SortStableFunc(routes, func(a, b *route) int { return len(b.prefix) - len(a.prefix) })
	return routes, nil
}

// match returns the route with the longest prefix matching the cleaned path,
// on path-segment boundaries: /app matches /app and /app/x, not /apple.
func (p *Proxy) match(clean string) *route {
	for _, rt := range p.routes {
		if rt.prefix == "/" || clean == rt.prefix || strings.HasPrefix(clean, rt.under) {
			return rt
		}
	}
	return nil
}

// newTransport is the upstream connection pool. Go's default keeps only two
// idle connections per host, which under load means a new connection for
// most requests; a proxy talks to few hosts, so it keeps many.
func newTransport() *http.Transport {
	return &http.Transport{
		// Upstreams are reached directly: requests carrying identity
		// headers must not detour through an HTTP_PROXY from the
		// environment.
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// rewrite shapes the outgoing request. Order matters: incoming identity and
// forwarding headers are removed before the proxy's are set.
func rewrite(pr *httputil.ProxyRequest, target *url.URL) {
	fw := pr.In.Context().Value(forwardKey{}).(*forward)
	if fw.path != "" {
		pr.Out.URL.Path, pr.Out.URL.RawPath = fw.path, ""
	}
	h := pr.Out.Header
	for k := range h {
		if isIdentityHeader(k) || isForwardingHeader(k) {
			delete(h, k)
		}
	}
	pr.SetURL(target)
	pr.SetXForwarded()

	s := fw.session
	// The values share fw's array, so setting the headers allocates nothing.
	v := &fw.values
	v[0] = s.subject
	h[headerUser] = v[0:1:1]
	if s.email != "" {
		v[1] = s.email
		h[headerEmail] = v[1:2:2]
	}
	if s.preferredUsername != "" {
		v[2] = s.preferredUsername
		h[headerPreferredUsername] = v[2:3:3]
	}
	if len(s.groups) > 0 {
		v[3] = strings.Join(s.groups, ",")
		h[headerGroups] = v[3:4:4]
	}
	if fw.stripCookies {
		if fw.cookie == "" {
			delete(h, "Cookie")
		} else {
			v[4] = fw.cookie
			h["Cookie"] = v[4:5:5]
		}
	}
}

// isIdentityHeader reports whether k names an identity header in any
// spelling: any case, and with underscores for dashes, since CGI-style
// servers (and the frameworks on them) read X_Forwarded_User as
// X-Forwarded-User.
func isIdentityHeader(k string) bool {
	switch len(k) {
	case len(headerUser):
		return sameHeaderName(k, headerUser)
	case len(headerEmail):
		return sameHeaderName(k, headerEmail)
	case len(headerGroups):
		return sameHeaderName(k, headerGroups)
	case len(headerPreferredUsername):
		return sameHeaderName(k, headerPreferredUsername)
	}
	return false
}

// isForwardingHeader reports whether k is a spelling of a header that
// SetXForwarded sets. ReverseProxy removes only the canonical spellings, and
// a server that reads X_Forwarded_Proto as X-Forwarded-Proto would let a
// client choose the scheme, host or address the upstream sees.
func isForwardingHeader(k string) bool {
	switch len(k) {
	case len("X-Forwarded-For"):
		return sameHeaderName(k, "X-Forwarded-For")
	case len("X-Forwarded-Host"):
		return sameHeaderName(k, "X-Forwarded-Host")
	case len("X-Forwarded-Proto"):
		return sameHeaderName(k, "X-Forwarded-Proto")
	}
	return false
}

func sameHeaderName(k, canonical string) bool {
	for i := 0; i < len(k); i++ {
		c, want := k[i], canonical[i]
		if c == '_' {
			c = '-'
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= want && want <= 'Z' {
			want += 'a' - 'A'
		}
		if c != want {
			return false
		}
	}
	return true
}

// dropOwnSetCookies removes the upstream's Set-Cookie headers for cookies
// named like the proxy's. The proxy never forwards those cookies, so an
// upstream has no use for them; honouring them would let one upstream sign
// people out, or plant another person's session (with a narrower Path, ahead
// of the real one) for every route.
func (p *Proxy) dropOwnSetCookies(res *http.Response) error {
	lines := res.Header["Set-Cookie"]
	if len(lines) == 0 {
		return nil
	}
	kept := lines[:0]
	for _, line := range lines {
		// Browsers take the name from before the first "=" of the part
		// before the first ";", trimming spaces and tabs.
		pair, _, _ := strings.Cut(line, ";")
		name, _, _ := strings.Cut(pair, "=")
		if name = strings.Trim(name, " \t"); ownCookie(name, p.cookieName) {
			p.log.WarnContext(res.Request.Context(), "dropped an upstream Set-Cookie for a cookie of the proxy", "cookie", name, "path", res.Request.URL.Path)
			continue
		}
		kept = append(kept, line)
	}
	if len(kept) == 0 {
		delete(res.Header, "Set-Cookie")
	} else {
		res.Header["Set-Cookie"] = kept
	}
	return nil
}

// upstreamError is the one place upstream failures become responses:
// 504 when the upstream timed out, 502 otherwise.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client left; nobody will read a page.
		p.log.DebugContext(r.Context(), "client went away before the upstream answered", "path", r.URL.Path, "error", err)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	pe := &pageError{
		status:  http.StatusBadGateway,
		title:   "The application could not be reached",
		message: "You are signed in, but the application behind this proxy did not answer properly.",
		hint:    "Try again in a moment. If it keeps happening, the site's operator should check that the application is running.",
		cause:   err,
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		pe.status = http.StatusGatewayTimeout
		pe.title = "The application took too long to answer"
	}
	p.fail(w, r, pe)
}

// copyBufferSize is the size of ReverseProxy's copy buffers.
const copyBufferSize = 32 << 10

// bufferPool reuses response copy buffers; without one, ReverseProxy
// allocates 32 KiB for every response.
type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[copyBufferSize]byte); ok {
		return buf[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if len(buf) == copyBufferSize {
		b.pool.Put((*[copyBufferSize]byte)(buf))
	}
}
