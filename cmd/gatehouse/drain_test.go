package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/proxy"
)

// TestDrain stops a proxy as SIGTERM does, with three things in flight:
// a request that finishes within shutdown_timeout and gets its answer, a
// request that would take longer and is cut off, and a WebSocket, a
// hijacked connection that Shutdown does not track, which is closed at the
// deadline too. Meanwhile new connections are refused.
func TestDrain(t *testing.T) {
	entered := make(chan string, 3)
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/finishes":
			entered <- r.URL.Path
			<-release
			io.WriteString(w, "finished")
		case "/hangs":
			entered <- r.URL.Path
			<-r.Context().Done() // until the proxy gives up on it
		case "/ws":
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			entered <- r.URL.Path
			_, _, _ = c.Read(context.Background()) // until the tunnel closes
		}
	}))
	t.Cleanup(upstream.Close)

	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	pub, _ := url.Parse(base)
	px, err := proxy.New(proxy.Config{
		PublicURL: pub,
		// Never contacted: every route is public.
		Provider: proxy.ProviderConfig{IssuerURL: "http://127.0.0.1:1", ClientID: "demo"},
		Cookie:   proxy.CookieConfig{Secrets: [][]byte{[]byte("demo-only-cookie-secret-0123456789abcdef")}},
		Routes:   []proxy.Route{{Path: "/", Upstream: upstream.URL, Public: true}},
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 2 * time.Second // long enough for the steps before the deadline
	ctx, sigterm := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- runServers(ctx, []server{newServer("proxy", ln, px, logger)}, nil, timeout, logger) }()

	type result struct {
		status int
		body   string
		err    error
	}
	get := func(path string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			resp, err := http.Get(base + path)
			if err != nil {
				ch <- result{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			ch <- result{status: resp.StatusCode, body: string(body), err: err}
		}()
		return ch
	}
	finishes, hangs := get("/finishes"), get("/hangs")
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through the proxy: %v", err)
	}
	defer ws.CloseNow()
	wsClosed := make(chan error, 1)
	go func() { _, _, err := ws.Read(context.Background()); wsClosed <- err }()
	for range 3 {
		<-entered
	}

	sigterm()
	deadline := time.Now().Add(waitLimit)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break // refused: the listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the proxy still accepts connections after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if r := <-finishes; r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Errorf("request finishing within the timeout: got %d %q, error %v; want 200 \"finished\"", r.status, r.body, r.err)
	}
	if r := <-hangs; r.err == nil && r.status == http.StatusOK {
		t.Errorf("request outlasting the timeout: got 200, want it cut off")
	}
	select {
	case err := <-wsClosed:
		if err == nil {
			t.Error("the WebSocket read a message, want it closed at the deadline")
		}
	case <-time.After(waitLimit):
		t.Fatal("the WebSocket is still open after the deadline")
	}
	if err := <-stopped; err != nil {
		t.Errorf("runServers: %v", err)
	}
	if want := `msg="shutdown_timeout reached: cutting off requests still in flight, upgraded connections such as WebSockets included" server=proxy requests=2 shutdown_timeout=2s`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %s", want)
	}
}
