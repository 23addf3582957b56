package httpx

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/httpx/httpxtest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// logLines decodes the JSON log lines written so far.
func logLines(t *testing.T, logs *syncbuf.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// serve runs h in the middleware on a real server and returns its logs.
func serve(t *testing.T, h http.Handler, o Options) (*httptest.Server, *syncbuf.Buffer) {
	return serveThen(t, h, o, func(*http.Request) {})
}

// serveThen is serve, calling done after the middleware has finished
// each request.
func serveThen(t *testing.T, h http.Handler, o Options, done func(*http.Request)) (*httptest.Server, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	o.Logger = slog.New(slog.NewJSONHandler(logs, nil)).With("server", "test")
	mw := Middleware(h, o)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.ServeHTTP(w, r)
		done(r)
	}))
	t.Cleanup(srv.Close)
	return srv, logs
}

func TestAccessLogLine(t *testing.T) {
	srv, logs := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := RecordOf(r.Context())
		rec.SetRoute("app", nil)
		rec.SetUser("ada")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "hello")
	}), Options{AccessLog: true})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/a/b?code=SECRET-CODE&access_token=SECRET-TOKEN", nil)
	req.Header.Set(RequestIDHeader, "edge-id-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get(RequestIDHeader); got != "edge-id-1" {
		t.Errorf("response X-Request-Id: got %q, want the edge proxy's edge-id-1", got)
	}
	lines := logLines(t, logs)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want exactly one:\n%s", len(lines), logs)
	}
	l := lines[0]
	for field, want := range map[string]any{
		"level": "INFO", "msg": "request", "server": "test", "route": "app", "method": "POST", "path": "/a/b",
		"status": float64(418), "bytes": float64(5), "user": "ada", "request_id": "edge-id-1",
	} {
		if l[field] != want {
			t.Errorf("%s: got %v, want %v", field, l[field], want)
		}
	}
	if d, ok := l["duration"].(float64); !ok || d <= 0 {
		t.Errorf("duration: got %v, want a positive number", l["duration"])
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("the query string reached the log:\n%s", logs)
	}
}

func TestAccessLogOff(t *testing.T) {
	srv, logs := serve(t, http.NotFoundHandler(), Options{AccessLog: false})
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if logs.String() != "" {
		t.Errorf("got log output with the access log off:\n%s", logs)
	}
}

func TestRequestIDOnTheResponse(t *testing.T) {
	var seen string
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get(RequestIDHeader)
		if n := len(r.Header.Values(RequestIDHeader)); n != 1 {
			t.Errorf("handler got %d X-Request-Id values, want one", n)
		}
		if id := RecordOf(r.Context()).RequestID(); id != seen {
			t.Errorf("Record: got %q, request header %q; want them equal", id, seen)
		}
		// An upstream's own id must not replace ours.
		w.Header().Set(RequestIDHeader, "from-the-handler")
	}), Options{})
	for _, tc := range []struct {
		name string
		sent []string
		keep bool // whether the first sent is kept
	}{
		{"taken", []string{"3f2c1b9e-8a4d-4c2e-9f1a-0b7d6e5c4a3b"}, true},
		{"first of several", []string{"first", "second"}, true},
		{"generated", nil, false},
		{"malformed replaced", []string{"<script>bad id</script>"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header[RequestIDHeader] = tc.sent
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := res.Header.Values(RequestIDHeader)
			if len(got) != 1 || got[0] != seen {
				t.Fatalf("response X-Request-Id: got %q, want only the handler's %q", got, seen)
			}
			if tc.keep && seen != tc.sent[0] || !tc.keep && !generated.MatchString(seen) {
				t.Errorf("handler saw %q for %q sent, want it kept: %v", seen, tc.sent, tc.keep)
			}
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	srv, logs := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/before":
			http.SetCookie(w, &http.Cookie{Name: "half", Value: "done"})
			panic("broken before writing")
		case "/after":
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "part of the body")
			w.(http.Flusher).Flush()
			panic("broken after writing")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	}), Options{AccessLog: true})

	res, err := http.Get(srv.URL + "/before")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Set-Cookie") != "" || !strings.Contains(string(body), res.Header.Get(RequestIDHeader)) {
		t.Errorf("panic before writing: got %d, Set-Cookie %q, body %q; want 500 without the cookie, naming the request id",
			res.StatusCode, res.Header.Get("Set-Cookie"), body)
	}

	res, err = http.Get(srv.URL + "/after")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("panic after writing: the client read a whole response, want the connection aborted")
	}

	res, err = http.Get(srv.URL + "/abort")
	if err == nil {
		res.Body.Close()
		t.Errorf("ErrAbortHandler: got %d, want the connection aborted", res.StatusCode)
	}

	res, err = http.Get(srv.URL + "/fine")
	if err != nil {
		t.Fatalf("after the panics: %v, want the server still serving", err)
	}
	res.Body.Close()

	var panics, requests int
	for _, l := range logLines(t, logs) {
		switch l["msg"] {
		case "panic serving a request":
			panics++
			if l["level"] != "ERROR" || !strings.Contains(l["stack"].(string), "middleware_test.go") {
				t.Errorf("panic line: got level %v and stack %.200q, want ERROR and the handler's stack", l["level"], l["stack"])
			}
		case "request":
			requests++
		}
	}
	if panics != 2 || requests != 4 {
		t.Errorf("got %d panic lines and %d request lines, want 2 (not for ErrAbortHandler) and 4:\n%s", panics, requests, logs)
	}
}

// TestStreamingThroughTheWrapper checks that a handler can flush an event
// before it returns and hijack a connection, as server-sent events and
// WebSockets through the proxy need.
func TestStreamingThroughTheWrapper(t *testing.T) {
	read, upgraded := make(chan struct{}), make(chan struct{})
	srv, logs := serveThen(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			<-read // returns only once the client has the first event
			io.WriteString(w, "data: two\n\n")
		case "/upgrade":
			w.Header().Set("Upgrade", "echo")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			line, _ := brw.ReadString('\n')
			io.WriteString(conn, "echo: "+line)
		}
	}), Options{AccessLog: true}, func(r *http.Request) {
		if r.URL.Path == "/upgrade" {
			close(upgraded)
		}
	})

	res, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "data: one\n" {
		t.Fatalf("first event: got %q, %v", first, err)
	}
	close(read)
	rest, _ := io.ReadAll(br)
	res.Body.Close()
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("rest of the stream: got %q", rest)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/upgrade", nil)
	req.Header.Set("Upgrade", "echo")
	req.Header.Set("Connection", "Upgrade")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rwc, ok := res.Body.(io.ReadWriteCloser)
	if res.StatusCode != http.StatusSwitchingProtocols || !ok {
		t.Fatalf("upgrade: got %d (%T), want 101 and a connection", res.StatusCode, res.Body)
	}
	io.WriteString(rwc, "ping\n")
	got, _ := bufio.NewReader(rwc).ReadString('\n')
	if got != "echo: ping\n" {
		t.Errorf("over the upgraded connection: got %q, want %q", got, "echo: ping\n")
	}
	rwc.Close()
	<-upgraded
	if !strings.Contains(logs.String(), `"status":101`) {
		t.Errorf("no access line with status 101:\n%s", logs)
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, "test")
	app := m.Route("app")
	// A second server joins the families rather than failing to register.
	other := NewMetrics(reg, "other")
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app" {
			RecordOf(r.Context()).SetRoute("app", app)
			return
		}
		if r.URL.Path == "/odd" {
			RecordOf(r.Context()).SetRoute("app", app)
			w.WriteHeader(599)
			return
		}
		http.NotFound(w, r)
	}), Options{Metrics: m})
	for _, path := range []string{"/app", "/app", "/odd", "/nowhere"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	other.Route("x").observe(200, 0)
	f := httpxtest.Scrape(t, reg)
	for _, tc := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_http_requests_total", map[string]string{"server": "test", "route": "app", "code": "200"}, 2},
		{"gatehouse_http_requests_total", map[string]string{"server": "test", "route": "app", "code": "5xx"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "test", "route": NoRoute, "code": "404"}, 1},
		{"gatehouse_http_requests_total", map[string]string{"server": "other", "route": "x", "code": "200"}, 1},
		{"gatehouse_http_request_duration_seconds", map[string]string{"server": "test", "route": "app"}, 3},
		{"gatehouse_http_request_duration_seconds", map[string]string{"server": "test", "route": NoRoute}, 1},
	} {
		if got := f.Value(tc.family, tc.labels); got != tc.want {
			t.Errorf("%s%v: got %v, want %v", tc.family, tc.labels, got, tc.want)
		}
	}
}

func TestPassRequestID(t *testing.T) {
	var got []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(RequestIDHeader))
	}))
	defer upstream.Close()
	client := &http.Client{Transport: PassRequestID(nil)}
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, upstream.URL, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
	}), Options{})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set(RequestIDHeader, "joined-up")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// Outside any request there is no id to pass.
	res, err = client.Get(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(got) != 2 || got[0] != "joined-up" || got[1] != "" {
		t.Errorf("ids the server called saw: got %q, want [joined-up \"\"]", got)
	}
}

func TestServeChecks(t *testing.T) {
	down := errors.New("connection refused\nsecond line")
	for _, tc := range []struct {
		name   string
		checks []Check
		status int
		body   string
	}{
		{"none", nil, 200, "ok\n"},
		{"passing", []Check{{"store", func(context.Context) error { return nil }}}, 200, "ok\n"},
		{"failing", []Check{
			{"store", func(context.Context) error { return down }},
			{"provider", func(context.Context) error { return nil }},
			{"keys", func(context.Context) error { return errors.New("no keys") }},
		}, 503, "store: connection refused second line\nkeys: no keys\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			ServeChecks(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil), tc.checks)
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("got %d %q (Cache-Control %q), want %d %q, no-store", rec.Code, rec.Body, rec.Header().Get("Cache-Control"), tc.status, tc.body)
			}
		})
	}
}
