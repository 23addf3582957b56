package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownStopsEveryServerAtOnce checks that on shutdown every server
// stops accepting at once, rather than one after another while an earlier
// one drains its requests.
func TestShutdownStopsEveryServerAtOnce(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	names := []string{"slow", "second", "third"}
	shutdown := make(map[string]chan struct{})
	var servers []server
	for i, name := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var h http.Handler = http.NotFoundHandler()
		if i == 0 {
			h = slow
		}
		s := newServer(name, ln, h, logger)
		ch := make(chan struct{})
		s.http.RegisterOnShutdown(func() { close(ch) })
		shutdown[name] = ch
		servers = append(servers, s)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runServers(ctx, servers, nil, 5*time.Second, logger) }()

	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		if resp, err := http.Get("http://" + servers[0].ln.Addr().String()); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	for _, name := range names[1:] {
		select {
		case <-shutdown[name]:
		case <-time.After(5 * time.Second): // a guard against hanging, not a measurement
			close(release)
			t.Fatalf("server %s not shut down while server slow drains a request; want every server shut down at once", name)
		}
	}
	close(release)
	<-reqDone
	if err := <-done; err != nil {
		t.Errorf("runServers: got %v, want nil", err)
	}
}
