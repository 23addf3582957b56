package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demoapp"
	"github.com/gatehouse/gatehouse/proxy"
)

// shutdownGrace is how long in-flight requests get to finish on SIGTERM.
const shutdownGrace = 10 * time.Second

func check(path string, stdout io.Writer) error {
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	var parts []string
	if c.File.AuthServer != nil {
		parts = append(parts, "authserver on "+c.File.AuthServer.Listen)
	}
	if c.File.Proxy != nil {
		parts = append(parts, "proxy on "+c.File.Proxy.Listen)
	}
	if c.File.DemoUpstream != nil {
		parts = append(parts, "demo upstream on "+c.File.DemoUpstream.Listen)
	}
	fmt.Fprintf(stdout, "%s is valid: %v\n", path, parts)
	for _, w := range c.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}

// server is one listener and its handler, started and stopped together.
type server struct {
	name string
	http *http.Server
	ln   net.Listener
}

func serve(ctx context.Context, path string, stderr io.Writer) error {
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	logger := c.Logger(stderr)
	for _, w := range c.Warnings {
		logger.Warn(w)
	}
	obs := newObservability(c)
	var servers []server
	// Bind every address before serving anything, so a port clash fails the
	// whole start instead of leaving half of gatehouse running.
	defer func() {
		for _, s := range servers {
			s.ln.Close()
		}
	}()
	listen := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		servers = append(servers, server{name: name, ln: ln, http: newHTTPServer(h, logger.With("server", name))})
		return nil
	}

	var background []func(context.Context)
	if a := c.File.AuthServer; a != nil {
		store, err := c.OpenStore(ctx, logger)
		if err != nil {
			return err
		}
		defer store.Close()
		cfg, err := c.AuthServer(store, logger.With("server", "authserver"))
		if err != nil {
			return err
		}
		cfg.Metrics = obs.registerer()
		as, err := authserver.New(cfg)
		if err != nil {
			return fmt.Errorf("authserver: %w", err)
		}
		obs.readyWhen(as.ReadyChecks())
		background = append(background, as.Maintain)
		if err := listen("authserver", a.Listen, as); err != nil {
			return err
		}
	}
	if p := c.File.Proxy; p != nil {
		sessions, err := c.OpenSessions()
		if err != nil {
			return err
		}
		defer sessions.Close()
		cfg, err := c.Proxy(sessions, logger.With("server", "proxy"))
		if err != nil {
			return err
		}
		cfg.Metrics = obs.registerer()
		px, err := proxy.New(cfg)
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		obs.readyWhen(px.ReadyChecks())
		background = append(background, px.Maintain)
		if err := listen("proxy", p.Listen, px); err != nil {
			return err
		}
	}
	if d := c.File.DemoUpstream; d != nil {
		if err := listen("demo upstream", d.Listen, demoapp.Handler()); err != nil {
			return err
		}
	}
	if err := obs.listen(listen, logger); err != nil {
		return err
	}
	return runServers(ctx, servers, background, logger)
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// runServers serves until ctx is done or a server fails, then shuts all
// of them down gracefully and returns once they and the background jobs
// have stopped, so the caller may then close what they use.
func runServers(ctx context.Context, servers []server, background []func(context.Context), logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, job := range background {
		wg.Add(1)
		go func() { defer wg.Done(); job(ctx) }()
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		logger.Info("listening", "server", s.name, "addr", s.ln.Addr().String())
		go func() {
			if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", s.name, err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-errc:
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	defer done()
	// All at once: one after another, a later server would keep accepting
	// requests while an earlier one drains.
	for _, s := range servers {
		wg.Go(func() {
			if serr := s.http.Shutdown(shutdownCtx); serr != nil {
				logger.Warn("shutdown", "server", s.name, "err", serr)
			}
		})
	}
	wg.Wait()
	return err
}
