package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// streamTimeout bounds each streaming test, so that a proxy that buffers
// fails the test instead of hanging it. Nothing is asserted about time.
const streamTimeout = 20 * time.Second

// streamUpstream is an upstream for the streaming tests: it records the
// headers of each request it gets, then hands the request to handler.
type streamUpstream struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []http.Header
}

func (u *streamUpstream) requests() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// newStreamEnv serves a proxy whose routes /stream (anyone signed in) and
// /admins (the admins group only; the test user is not in it) lead to an
// upstream served by handler. The harness's own upstream stays at /.
func newStreamEnv(t *testing.T, handler http.HandlerFunc) (*env, *streamUpstream) {
	t.Helper()
	up := &streamUpstream{}
	up.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.seen = append(up.seen, r.Header.Clone())
		up.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(up.srv.Close)
	e := newEnv(t, func(c *Config) {
		c.Routes = append(c.Routes,
			Route{Path: "/stream", Upstream: up.srv.URL},
			Route{Path: "/admins", Upstream: up.srv.URL, Allow: &policy.Rules{Groups: []string{"admins"}}},
		)
	})
	return e, up
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

// echo is a WebSocket server that sends every message back.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}

func TestWebSocketEcho(t *testing.T) {
	e, up := newStreamEnv(t, echo)
	b := newBrowser(t)
	e.signIn(b, "/")
	ctx, cancel := context.WithTimeout(t.Context(), streamTimeout)
	defer cancel()

	c, resp, err := websocket.Dial(ctx, wsURL(e.srv.URL)+"/stream/ws", &websocket.DialOptions{
		HTTPClient: b.c,
		HTTPHeader: http.Header{headerUser: {"mallory"}, "Accept": {acceptHTML}},
	})
	if err != nil {
		t.Fatalf("dial through the proxy: %v (response %v)", err, resp)
	}
	defer c.CloseNow()

	messages := []struct {
		typ  websocket.MessageType
		data []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 0xff}},
		{websocket.MessageText, bytes.Repeat([]byte("larger than a frame header, "), 1000)},
	}
	for i, m := range messages {
		if err := c.Write(ctx, m.typ, m.data); err != nil {
			t.Fatalf("message %d: write: %v", i, err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: read: %v", i, err)
		}
		if typ != m.typ || !bytes.Equal(got, m.data) {
			t.Errorf("message %d: got %v of %d bytes back, want the %v of %d bytes sent", i, typ, len(got), m.typ, len(m.data))
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}

	seen := up.requests()
	if len(seen) != 1 {
		t.Fatalf("the upstream got %d requests, want the one upgrade", len(seen))
	}
	if got := seen[0].Values(headerUser); !slices.Equal(got, []string{"user-42"}) {
		t.Errorf("upstream saw %s %q, want only the signed-in user's sub, without the client's own value", headerUser, got)
	}
}

// TestWebSocketRefused: an upgrade that the proxy does not admit is
// answered by the proxy itself and never reaches the upstream; one without
// a session gets 401, not a redirect to sign in that it cannot follow.
func TestWebSocketRefused(t *testing.T) {
	e, up := newStreamEnv(t, echo)
	signedIn := newBrowser(t)
	e.signIn(signedIn, "/")
	tests := []struct {
		name   string
		b      *browser
		path   string
		header http.Header
		want   int
	}{
		{"no session", newBrowser(t), "/stream/ws", nil, http.StatusUnauthorized},
		{"no session, asking for HTML", newBrowser(t), "/stream/ws", http.Header{"Accept": {acceptHTML}}, http.StatusUnauthorized},
		{"no session, as a navigation", newBrowser(t), "/stream/ws", http.Header{"Accept": {acceptHTML}, "Sec-Fetch-Mode": {"navigate"}}, http.StatusUnauthorized},
		{"denied by the route's policy", signedIn, "/admins/ws", nil, http.StatusForbidden},
		{"denied by the route's policy, asking for HTML", signedIn, "/admins/ws", http.Header{"Accept": {acceptHTML}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), streamTimeout)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, wsURL(e.srv.URL)+tt.path, &websocket.DialOptions{HTTPClient: tt.b.c, HTTPHeader: tt.header})
			if err == nil {
				c.CloseNow()
				t.Fatal("the upgrade succeeded")
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("got Location %q, want none", loc)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			var doc struct{ Error string }
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || json.Unmarshal(body, &doc) != nil || doc.Error != "unauthorized" {
				t.Errorf("got %s body %s, want JSON with error unauthorized", ct, body)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("refused upgrades reached the upstream %d times", n)
	}
}

func TestBrowserNavigationExcludesUpgrades(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want bool
	}{
		{"navigation", http.Header{"Accept": {acceptHTML}}, true},
		{"websocket", http.Header{"Accept": {acceptHTML}, "Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, false},
		{"Upgrade alone", http.Header{"Accept": {acceptHTML}, "Upgrade": {"websocket"}}, false},
		{"Connection: upgrade alone", http.Header{"Accept": {acceptHTML}, "Connection": {"keep-alive, Upgrade"}}, false},
		{"keep-alive", http.Header{"Accept": {acceptHTML}, "Connection": {"keep-alive"}}, true},
	}
	for _, tt := range tests {
		if got := browserNavigation(http.MethodGet, tt.h); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestStreamedResponses: the proxy passes on each piece of a response as
// the upstream writes it. The upstream writes the first piece and then
// waits until the client has read it through the proxy; a proxy that held
// it back would leave both waiting until the safety timeout.
func TestStreamedResponses(t *testing.T) {
	tests := []struct {
		name, contentType string
		first, second     string
	}{
		{"server-sent events", "text/event-stream", "event: tick\ndata: 1\n\n", "event: tick\ndata: 2\n\n"},
		{"chunked download", "application/octet-stream", "the first chunk", strings.Repeat("the rest ", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			releaseOnce := func() { once.Do(func() { close(release) }) }
			t.Cleanup(releaseOnce)
			e, _ := newStreamEnv(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				io.WriteString(w, tt.first)
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, tt.second)
			})
			b := newBrowser(t)
			e.signIn(b, "/")
			ctx, cancel := context.WithTimeout(t.Context(), streamTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/stream/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("got %d %s, want 200 %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.contentType)
			}
			first := make([]byte, len(tt.first))
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatalf("reading the first piece while the upstream waits: %v", err)
			}
			if string(first) != tt.first {
				t.Fatalf("first piece %q, want %q", first, tt.first)
			}
			releaseOnce()
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != tt.second {
				t.Errorf("the rest is %d bytes, want the %d the upstream wrote", len(rest), len(tt.second))
			}
		})
	}
}

// TestStreamedUpload: the proxy passes a request body on as it arrives.
// The client writes the rest of the body only after the upstream has read
// the first part, so a proxy that read the body whole would wait forever.
func TestStreamedUpload(t *testing.T) {
	const part, parts = 64 << 10, 16
	firstRead := make(chan struct{})
	e, up := newStreamEnv(t, func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, part)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !bytes.Equal(first, uploadPart(0, part)) {
			http.Error(w, "the first part is corrupt", http.StatusBadRequest)
			return
		}
		close(firstRead)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, part+n)
	})
	b := newBrowser(t)
	e.signIn(b, "/")
	ctx, cancel := context.WithTimeout(t.Context(), streamTimeout)
	defer cancel()

	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write(uploadPart(0, part)); err != nil {
			return
		}
		select {
		case <-firstRead:
		case <-ctx.Done():
			pw.CloseWithError(fmt.Errorf("the upstream did not get the first part before the rest was sent: %w", ctx.Err()))
			return
		}
		for i := 1; i < parts; i++ {
			if _, err := pw.Write(uploadPart(i, part)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, e.srv.URL+"/stream/upload", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
	}
	if got, want := string(body), strconv.Itoa(part*parts); got != want {
		t.Errorf("the upstream got %s bytes, want %s", got, want)
	}
	if seen := up.requests(); len(seen) != 1 || seen[0].Get(headerUser) != "user-42" {
		t.Errorf("the upstream got %d requests, want one from user-42", len(seen))
	}
}

// uploadPart is the i-th part of the test upload, n bytes that differ
// from part to part.
func uploadPart(i, n int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, n)
}
