package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainPoll is how often a draining server checks whether its last
// requests have finished, as http.Server.Shutdown does for connections.
const drainPoll = 20 * time.Millisecond

// newServer serves h on ln, counting the requests in flight so shutdown
// can wait for them and say how many it cut off.
func newServer(name string, ln net.Listener, h http.Handler, logger *slog.Logger) server {
	s := server{name: name, ln: ln, inflight: new(atomic.Int64)}
	base, cut := context.WithCancel(context.Background())
	s.cut = cut
	s.http = newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		h.ServeHTTP(w, r)
	}), logger)
	// Every request's context derives from base, so cancelling it reaches
	// connections that Shutdown and Close do not know of: those hijacked
	// for a protocol upgrade. The proxy's ReverseProxy closes a WebSocket
	// tunnel when its request's context ends.
	s.http.BaseContext = func(net.Listener) context.Context { return base }
	return s
}

// shutdownAll stops every server at once: one after another, a later
// server would keep accepting requests while an earlier one drains.
func shutdownAll(servers []server, timeout time.Duration, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() { s.drain(ctx, timeout, logger) })
	}
	wg.Wait()
}

// drain closes the listener at once, lets the requests in flight finish
// until ctx is done, and then cuts off those left.
func (s server) drain(ctx context.Context, timeout time.Duration, logger *slog.Logger) {
	defer s.cut()
	err := s.http.Shutdown(ctx)
	// Shutdown does not wait for hijacked connections (WebSockets), whose
	// requests are still counted in flight.
	if err == nil {
		t := time.NewTicker(drainPoll)
		defer t.Stop()
		for s.inflight.Load() > 0 && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
	n := s.inflight.Load()
	if n > 0 {
		logger.Warn("shutdown_timeout reached: cutting off requests still in flight, upgraded connections such as WebSockets included",
			"server", s.name, "requests", n, "shutdown_timeout", timeout)
	}
	if n > 0 || err != nil {
		s.cut()
		if err := s.http.Close(); err != nil {
			logger.Warn("shutdown", "server", s.name, "err", err)
		}
	}
}
