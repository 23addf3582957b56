package httpx

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// Options configure Middleware.
type Options struct {
	// Logger gets the access log and the panics. It should name the server
	// (logger.With("server", ...)), as the loggers both servers are given do.
	Logger *slog.Logger
	// AccessLog writes one line per request at info.
	AccessLog bool
	// Metrics counts and times requests; nil records nothing.
	Metrics *Metrics
}

// Middleware wraps a server's handler with what every request gets: an id
// (taken from a well-formed X-Request-Id or made up, and sent back on the
// response), a Record in its context, recovery from panics, request
// metrics and the access log line.
func Middleware(next http.Handler, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &middleware{next: next, opts: o}
}

type middleware struct {
	next http.Handler
	opts Options
}

// Record is what handlers tell the middleware about a request: which
// route served it and who made it. Handlers reach it with RecordOf; its
// methods do nothing on a nil Record, so handlers work without the
// middleware too.
type Record struct {
	id      string
	route   string
	user    string
	metrics *RouteMetrics
}

type recordKey struct{}

// RecordOf returns the Record of the request whose context is ctx, or nil.
func RecordOf(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// SetRoute names the route serving the request, and gives the metrics to
// count it under (nil when metrics are off).
func (rec *Record) SetRoute(name string, m *RouteMetrics) {
	if rec != nil {
		rec.route, rec.metrics = name, m
	}
}

// SetUser names who made the request, once that is known.
func (rec *Record) SetUser(user string) {
	if rec != nil {
		rec.user = user
	}
}

// RequestID is the request's id, or "" for a nil Record.
func (rec *Record) RequestID() string {
	if rec == nil {
		return ""
	}
	return rec.id
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The writer and the record share one allocation.
	rw := &responseWriter{ResponseWriter: w}
	rw.rec.id = RequestID(r)
	// RequestID left a valid value first. Only that one goes upstream, and
	// the response shares its slice rather than allocating its own.
	ids := r.Header[RequestIDHeader][:1:1]
	r.Header[RequestIDHeader] = ids
	rw.idHeader = ids
	r = r.WithContext(context.WithValue(r.Context(), recordKey{}, &rw.rec))
	defer m.finish(rw, r, start)
	m.next.ServeHTTP(rw, r)
}

// finish runs after the handler, also when it panicked: it recovers, then
// counts and logs the request.
func (m *middleware) finish(rw *responseWriter, r *http.Request, start time.Time) {
	p := recover()
	if p != nil && p != http.ErrAbortHandler {
		m.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "panic serving a request",
			slog.Any("panic", p), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", rw.rec.id), slog.String("stack", string(debug.Stack())))
		if rw.status == 0 {
			internalError(rw)
			p = nil
		} else {
			// Half a response is out: only closing the connection tells
			// the client it is broken. ErrAbortHandler makes net/http do
			// that without logging the stack a second time.
			p = http.ErrAbortHandler
		}
	}
	if rw.status == 0 && p == nil && !rw.hijacked {
		// What net/http would send for a handler that wrote nothing, but
		// through the wrapper, so the response carries the id.
		rw.WriteHeader(http.StatusOK)
	}
	status := rw.status
	d := time.Since(start)
	if rm := rw.rec.metrics; rm != nil {
		rm.observe(status, d)
	} else if m.opts.Metrics != nil {
		m.opts.Metrics.unrouted.observe(status, d)
	}
	if m.opts.AccessLog && m.opts.Logger.Enabled(r.Context(), slog.LevelInfo) {
		// The path only: a query string can carry codes and tokens.
		m.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("route", rw.rec.route), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Duration("duration", d), slog.Int64("bytes", rw.bytes),
			slog.String("user", rw.rec.user), slog.String("request_id", rw.rec.id))
	}
	if p != nil {
		panic(p)
	}
}

// internalError answers a request whose handler panicked before writing.
func internalError(rw *responseWriter) {
	h := rw.Header()
	// Whatever the handler prepared, cookies included, is not sent.
	clear(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(http.StatusInternalServerError)
	_, _ = rw.Write([]byte("Internal server error: the request failed because of a bug. Try again; if it fails again, report request id " + rw.rec.id + ".\n"))
}

// responseWriter notes the status and size of a response. It is an
// http.Flusher and http.Hijacker for handlers that look for those, and
// the rest of what http.ResponseController reaches stays reachable by
// Unwrap.
type responseWriter struct {
	http.ResponseWriter
	status   int // 0 until the final header is written
	bytes    int64
	idHeader []string
	hijacked bool
	rec      Record
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		// 1xx answers other than 101 (Switching Protocols) come before
		// the final one.
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code)
			return
		}
		w.status = code
		// Set last, so an upstream's own id does not replace ours.
		w.Header()[RequestIDHeader] = w.idHeader
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends what is buffered, for streaming answers (server-sent events)
// from handlers that look for http.Flusher.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack takes over the connection (for a protocol upgrade), noting that
// the response is no longer the writer's to finish.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// PassRequestID returns a transport that sends the id of the request in
// whose context a call is made on to the server called, as X-Request-Id,
// so that both sides' logs of one sign-in can be joined.
func PassRequestID(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return passRequestID{next}
}

type passRequestID struct{ next http.RoundTripper }

func (t passRequestID) RoundTrip(req *http.Request) (*http.Response, error) {
	id := RecordOf(req.Context()).RequestID()
	if id == "" || req.Header.Get(RequestIDHeader) != "" {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	req = req.Clone(req.Context())
	req.Header.Set(RequestIDHeader, id)
	return t.next.RoundTrip(req)
}
