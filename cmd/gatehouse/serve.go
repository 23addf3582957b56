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
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/authserver"
	"github.com/gatehouse/gatehouse/internal/backend"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/demoapp"
	"github.com/gatehouse/gatehouse/internal/logsink"
	"github.com/gatehouse/gatehouse/proxy"
)

// server is one listener and its handler, started and stopped together.
type server struct {
	name string
	http *http.Server
	ln   net.Listener
	// inflight counts the requests being served; cut cancels their
	// contexts (see newServer).
	inflight *atomic.Int64
	cut      context.CancelFunc
}

func serve(ctx context.Context, path string, stderr io.Writer) error {
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar) // a reload may change it
	level.Set(c.LogLevel())
	// Lines gather while one batch is written, so requests don't each
	// wait for a write(2); Close, run last, writes out the rest.
	out := logsink.New(stderr)
	defer out.Close()
	logger := c.LoggerAt(out, level)
	for _, w := range c.Warnings {
		logger.Warn(w)
	}
	for _, r := range c.Risks {
		logger.Warn("risky setting: " + r.String())
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
		servers = append(servers, newServer(name, ln, h, logger.With("server", name)))
		return nil
	}

	var (
		background []func(context.Context)
		as         *authserver.Server
		px         *proxy.Proxy
	)
	if a := c.File.AuthServer; a != nil {
		store, err := backend.OpenStore(ctx, c, logger)
		if err != nil {
			return err
		}
		defer store.Close()
		cfg, err := c.AuthServer(store, logger.With("server", "authserver"))
		if err != nil {
			return err
		}
		cfg.Metrics = obs.registerer()
		if as, err = authserver.New(cfg); err != nil {
			return fmt.Errorf("authserver: %w", err)
		}
		obs.readyWhen(as.ReadyChecks())
		background = append(background, as.Maintain)
		if err := listen("authserver", a.Listen, as); err != nil {
			return err
		}
	}
	if p := c.File.Proxy; p != nil {
		sessions, err := backend.OpenSessions(c)
		if err != nil {
			return err
		}
		defer sessions.Close()
		cfg, err := c.Proxy(sessions, logger.With("server", "proxy"))
		if err != nil {
			return err
		}
		cfg.Metrics = obs.registerer()
		if px, err = proxy.New(cfg); err != nil {
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
	rl := newReloader(c, level, logger, as, px)
	background = append(background, func(ctx context.Context) { rl.run(ctx, c.File.Reload.Watch, c.File.Reload.Interval) })
	return runServers(ctx, servers, background, c.File.ShutdownTimeout, logger)
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
func runServers(ctx context.Context, servers []server, background []func(context.Context), shutdownTimeout time.Duration, logger *slog.Logger) error {
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
		logger.Info("shutting down: requests in flight may finish", "shutdown_timeout", shutdownTimeout)
	case err = <-errc:
	}
	cancel()
	shutdownAll(servers, shutdownTimeout, logger)
	wg.Wait()
	return err
}
