package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// observability is the process's metric registry and what its listener
// serves: /metrics, and /healthz and /readyz for every server of the
// process at once. With metrics: absent from the file it is all off.
type observability struct {
	addr     string               // "" when metrics are off
	registry *prometheus.Registry // one per process, never the global default
	ready    []httpx.Check
}

func newObservability(c *config.Config) *observability {
	if c.File.Metrics == nil {
		return &observability{}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &observability{addr: c.File.Metrics.Listen, registry: reg}
}

// registerer is what servers register their families with: nil, and so
// nothing counted, when metrics are off.
func (o *observability) registerer() prometheus.Registerer {
	if o.registry == nil {
		return nil // not a nil *Registry, which would be a non-nil interface
	}
	return o.registry
}

// readyWhen adds a server's readiness checks to the process's /readyz.
func (o *observability) readyWhen(checks []httpx.Check) {
	o.ready = append(o.ready, checks...)
}

// listen binds the metrics listener, when there is one, with serve's
// listen.
func (o *observability) listen(listen func(name, addr string, h http.Handler) error, logger *slog.Logger) error {
	if o.addr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
		// A scrape that fails in part still shows what it could gather.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	// Alive: the process answers. Ready: every server's checks pass.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { httpx.ServeChecks(w, r, nil) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { httpx.ServeChecks(w, r, o.ready) })
	return listen("metrics", o.addr, mux)
}
