package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy/policy"
)

// TestReload checks that Reload changes routes, policies and identity
// headers for the next requests, while sessions, keep-alive connections
// and requests in flight carry on, and that an invalid configuration
// changes nothing.
func TestReload(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "slow upstream done")
	}))
	t.Cleanup(slow.Close)
	before, after := newTestUpstream(t), newTestUpstream(t)
	routes := func(app string, more ...Route) []Route {
		return append([]Route{
			{Path: "/", Upstream: app},
			{Path: "/public", Upstream: app, Public: true},
			{Path: "/slow", Upstream: slow.URL, Public: true},
		}, more...)
	}
	e := newEnv(t, func(c *Config) { c.Routes = routes(before.srv.URL) })
	b := newBrowser(t)
	e.signIn(b, "/")

	// One client connection throughout, to see that reloads keep it.
	var newConns atomic.Int32
	keepAlive := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(keepAlive.CloseIdleConnections)
	get := func(t *testing.T, path string, h http.Header) (int, string) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			if !ci.Reused {
				newConns.Add(1)
			}
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := keepAlive.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := get(t, "/public/x", nil); status != http.StatusOK {
		t.Fatalf("before reloading: got %d, want 200", status)
	}

	// A request in flight when the reload happens.
	slowDone := make(chan string, 1)
	go func() {
		resp, err := http.Get(e.srv.URL + "/slow")
		if err != nil {
			slowDone <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		slowDone <- string(body)
	}()
	<-entered

	err := e.proxy.Reload(Config{Routes: routes(after.srv.URL,
		Route{Path: "/admin", Upstream: after.srv.URL, Allow: &policy.Rules{Groups: []string{"admins"}}},
		Route{Path: "/custom", Upstream: after.srv.URL, Public: true, Identity: Identity{Headers: map[string]string{"X-Custom-User": "sub"}}},
	)})
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	close(release)
	if got := <-slowDone; got != "slow upstream done" {
		t.Errorf("request in flight during the reload: got %q, want the slow upstream's answer", got)
	}

	t.Run("routes go to the new upstream", func(t *testing.T) {
		n := after.count()
		if status, body := get(t, "/public/x", nil); status != http.StatusOK || after.count() != n+1 {
			t.Errorf("got %d %q and %d requests at the new upstream, want 200 and one", status, body, after.count()-n)
		}
	})
	t.Run("the session carries over", func(t *testing.T) {
		if r := b.get(e.srv.URL + "/app"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "as user-42") {
			t.Errorf("signed-in request after the reload: got %d %q, want 200 for user-42", r.StatusCode, r.body)
		}
	})
	t.Run("a new policy applies", func(t *testing.T) {
		if r := b.get(e.srv.URL + "/admin"); r.StatusCode != http.StatusForbidden {
			t.Errorf("GET /admin by a non-admin: got %d, want 403", r.StatusCode)
		}
	})
	t.Run("a new identity header is stripped from clients", func(t *testing.T) {
		get(t, "/custom", http.Header{"X-Custom-User": {"forged"}})
		if v := after.last(t).Header.Get("X-Custom-User"); v != "" {
			t.Errorf("the upstream got X-Custom-User %q from the client, want it removed", v)
		}
	})
	t.Run("an invalid configuration changes nothing", func(t *testing.T) {
		state := e.proxy.state.Load()
		err := e.proxy.Reload(Config{Routes: []Route{{Path: "/", Upstream: "ftp://nowhere"}}})
		var ce ConfigErrors
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "routes[0].upstream") {
			t.Fatalf("got %v, want ConfigErrors naming routes[0].upstream", err)
		}
		if e.proxy.state.Load() != state {
			t.Fatal("a refused reload replaced the state")
		}
		if r := b.get(e.srv.URL + "/admin"); r.StatusCode != http.StatusForbidden {
			t.Errorf("GET /admin after a refused reload: got %d, want the running policy's 403", r.StatusCode)
		}
	})
	if n := newConns.Load(); n != 1 {
		t.Errorf("the keep-alive client opened %d connections, want 1 for all its requests", n)
	}
}

// TestReloadUnderLoad reloads again and again while clients send requests:
// every request is served whole, by one configuration or the other. Run
// with -race, it also checks that requests and Reload share nothing
// unguarded.
func TestReloadUnderLoad(t *testing.T) {
	ups := []*testUpstream{newTestUpstream(t), newTestUpstream(t)}
	routesTo := func(i int) []Route { return []Route{{Path: "/", Upstream: ups[i].srv.URL, Public: true}} }
	e := newEnv(t, func(c *Config) { c.Routes = routesTo(0) })
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				resp, err := client.Get(e.srv.URL + "/x")
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "upstream saw /x") {
					errs <- fmt.Errorf("got %d %q (%v), want 200 from an upstream", resp.StatusCode, body, err)
					return
				}
			}
		}()
	}
	// Until both configurations have served plenty, so reloads and
	// requests surely interleave.
	deadline := time.Now().Add(10 * time.Second) // a guard against hanging
	for i := 0; ups[0].count() < 100 || ups[1].count() < 100; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("upstreams served %d and %d requests; want 100 each", ups[0].count(), ups[1].count())
		}
		if err := e.proxy.Reload(Config{Routes: routesTo(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
