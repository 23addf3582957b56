package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/pages"
)

// compileUpstream reads where a route sends requests and builds its
// ReverseProxy. Routes with the same connection settings share a transport,
// and so its pool of connections.
func (p *Proxy) compileUpstream(rt *route, rc Route, pool *upstreamPool, ps *problems) {
	f := &rt.forward
	if rc.Upstream == "" {
		if rc.TLS != (UpstreamTLS{}) || rc.Timeouts != (Timeouts{}) || rc.PreserveHost || rc.HostHeader != "" || rc.StripPrefix || len(rc.SetHeaders) > 0 {
			ps.add(rt.field+".upstream", "is required for the forwarding settings of this route; without an upstream a route only answers forward-auth")
		}
		return
	}
	target, tr, err := pool.transport(rc)
	if err != nil {
		ps.add(rt.field+err.field, "%s", err.msg)
		return
	}
	f.target = target
	rt.upstream = rc.Upstream
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		ModifyResponse: p.dropOwnSetCookies,
		Transport:      p.metrics.timed(rt.name, tr),
		BufferPool:     pool.buffers,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       pool.errorLog,
		// 0, not -1: SSE and unknown-length (chunked) bodies are flushed on every write regardless, and -1 costs every request a timer and 5 allocations.
		FlushInterval: 0,
	}
}

// upstreamPool holds what routes share: transports by connection settings,
// the copy buffers and the error log.
type upstreamPool struct {
	transports map[transportKey]*http.Transport
	buffers    *bufferPool
	errorLog   *log.Logger
}

func newUpstreamPool(logger *slog.Logger) *upstreamPool {
	return &upstreamPool{
		transports: map[transportKey]*http.Transport{},
		buffers:    &bufferPool{},
		errorLog:   slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

type transportKey struct {
	socket   string
	tls      UpstreamTLS
	timeouts Timeouts
}

// fieldError is a problem with one field of a Route.
type fieldError struct{ field, msg string }

// transport parses rc.Upstream and returns the URL to send requests to and
// the transport that reaches it.
func (pool *upstreamPool) transport(rc Route) (*url.URL, *http.Transport, *fieldError) {
	raw := rc.Upstream
	key := transportKey{tls: rc.TLS, timeouts: rc.Timeouts}
	var target *url.URL
	switch {
	case strings.HasPrefix(raw, "unix:"):
		key.socket = strings.TrimPrefix(strings.TrimPrefix(raw, "unix:"), "//")
		if !strings.HasPrefix(key.socket, "/") || strings.ContainsAny(key.socket, "?#") {
			return nil, nil, &fieldError{".upstream", fmt.Sprintf("%q: write a unix socket as unix:/absolute/path.sock", raw)}
		}
		if rc.TLS != (UpstreamTLS{}) {
			return nil, nil, &fieldError{".tls", "applies to https upstreams only"}
		}
		// The host is what the upstream sees in Host, unless configured.
		target = &url.URL{Scheme: "http", Host: "localhost"}
	default:
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, nil, &fieldError{".upstream", fmt.Sprintf("%q is not an upstream: use http://host:port[/path], https://... or unix:/path.sock", raw)}
		}
		if u.Scheme == "http" && rc.TLS != (UpstreamTLS{}) {
			return nil, nil, &fieldError{".tls", "applies to https upstreams only; use https:// in upstream"}
		}
		target = u
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"connect", rc.Timeouts.Connect}, {"tls_handshake", rc.Timeouts.TLSHandshake}, {"response_header", rc.Timeouts.ResponseHeader}} {
		if d.v < 0 {
			return nil, nil, &fieldError{".timeouts." + d.field, "must not be negative"}
		}
	}
	if tr, ok := pool.transports[key]; ok {
		return target, tr, nil
	}
	tr, ferr := newTransport(key)
	if ferr != nil {
		return nil, nil, ferr
	}
	pool.transports[key] = tr
	return target, tr, nil
}

// newTransport is a pool of upstream connections. Go's default keeps only
// two idle connections per host, which under load means a new connection
// for most requests; a proxy talks to few hosts, so it keeps many.
func newTransport(k transportKey) (*http.Transport, *fieldError) {
	dialer := &net.Dialer{
		Timeout:   orDefault(k.timeouts.Connect, DefaultConnectTimeout),
		KeepAlive: 30 * time.Second,
	}
	tr := &http.Transport{
		// Upstreams are reached directly: requests carrying identity
		// headers must not detour through an HTTP_PROXY from the
		// environment.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   orDefault(k.timeouts.TLSHandshake, DefaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: k.timeouts.ResponseHeader,
		ExpectContinueTimeout: time.Second,
	}
	if k.socket != "" {
		socket := k.socket
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		}
	}
	if k.tls != (UpstreamTLS{}) {
		cfg, ferr := upstreamTLSConfig(k.tls)
		if ferr != nil {
			return nil, ferr
		}
		tr.TLSClientConfig = cfg
	}
	return tr, nil
}

func upstreamTLSConfig(t UpstreamTLS) (*tls.Config, *fieldError) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &fieldError{".tls.ca_file", fmt.Sprintf("cannot read %s: %v", t.CAFile, errors.Unwrap(err))}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &fieldError{".tls.ca_file", fmt.Sprintf("%s holds no PEM certificate", t.CAFile)}
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &fieldError{".tls.cert_file", fmt.Sprintf("cannot load the client certificate: %v", err)}
		}
		cfg.Certificates = []tls.Certificate{cert}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, &fieldError{".tls.key_file", "set both cert_file and key_file for a client certificate"}
	}
	return cfg, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
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
	pe := &pages.Error{Status: http.StatusBadGateway, Kind: "upstream_down", Cause: err}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		pe.Status, pe.Kind = http.StatusGatewayTimeout, "upstream_slow"
	}
	pe.Actions = []pages.Action{{Key: "action.try_again", URL: r.URL.RequestURI()}}
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
