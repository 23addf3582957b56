package proxy

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/pages"
)

// serverName names the proxy in log lines and metrics.
const serverName = "proxy"

// Outcomes of refreshes with the provider, counted by
// gatehouse_session_refreshes_total.
const (
	refreshRenewed   = "renewed"
	refreshTransient = "transient_error" // tried again later; the session lasts until its tokens expire
	refreshFailed    = "failed"          // the provider refused: the session ends
)

// metrics are the proxy's families; a nil *metrics counts nothing.
type metrics struct {
	http        *httpx.Metrics
	signIns     *prometheus.CounterVec
	refreshes   *prometheus.CounterVec
	denials     *prometheus.CounterVec
	upstream    *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
	// reserved are the metrics of the proxy's own endpoints, by path.
	reserved map[string]*httpx.RouteMetrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		http:    httpx.NewMetrics(reg, serverName),
		signIns: httpx.SignIns(reg, serverName),
		refreshes: httpx.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_session_refreshes_total",
			Help: "Refreshes of proxy sessions with the provider, by outcome (renewed, transient_error, failed).",
		}, []string{"outcome"})),
		denials: httpx.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_policy_denials_total",
			Help: "Signed-in requests a route's policy refused, by route and rule.",
		}, []string{"route", "rule"})),
		upstream: httpx.MustRegister(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to its response headers, by route.",
			Buckets: httpx.DurationBuckets,
		}, []string{"route"})),
		storeErrors: httpx.StoreErrors(reg, serverName),
		reserved:    map[string]*httpx.RouteMetrics{},
	}
	for _, path := range reservedPaths {
		m.reserved[path] = m.http.Route(path)
	}
	return m
}

func (m *metrics) httpMetrics() *httpx.Metrics {
	if m == nil {
		return nil
	}
	return m.http
}

// reservedRoute returns the route name and metrics of the proxy's
// endpoint at path. A path under /oauth2/ that is none has no route, like
// any other path no route serves.
func (m *metrics) reservedRoute(path string) (string, *httpx.RouteMetrics) {
	if !slices.Contains(reservedPaths[:], path) {
		return "", nil
	}
	if m == nil {
		return path, nil
	}
	return path, m.reserved[path]
}

// route returns the request metrics of a route.
func (m *metrics) route(name string) *httpx.RouteMetrics {
	if m == nil {
		return nil
	}
	return m.http.Route(name)
}

// signIn counts a callback by its outcome: success, or the kind of error
// that ended it.
func (m *metrics) signIn(err error) {
	if m == nil {
		return
	}
	outcome := "success"
	if err != nil {
		outcome = "error"
		if pe, ok := errors.AsType[*pages.Error](err); ok && pe.Kind != "" {
			outcome = pe.Kind
		}
	}
	m.signIns.WithLabelValues(outcome).Inc()
}

func (m *metrics) refreshed(outcome string) {
	if m != nil {
		m.refreshes.WithLabelValues(outcome).Inc()
	}
}

func (m *metrics) denied(route, rule string) {
	if m != nil {
		m.denials.WithLabelValues(route, rule).Inc()
	}
}

// timed wraps a route's transport to time its upstream, or returns it as
// is when metrics are off.
func (m *metrics) timed(route string, next http.RoundTripper) http.RoundTripper {
	if m == nil {
		return next
	}
	return timedTransport{next: next, latency: m.upstream.WithLabelValues(route)}
}

type timedTransport struct {
	next    http.RoundTripper
	latency prometheus.Observer
}

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(r)
	t.latency.Observe(time.Since(start).Seconds())
	return res, err
}

// countErrors wraps a session store so its failures are counted, keeping
// the interfaces (Locker, Shared) it has; with metrics off it returns the
// store as is.
func (m *metrics) countErrors(store SessionStore) SessionStore {
	if m == nil || store == nil {
		return store
	}
	c := countingStore{store: store, errs: m.storeErrors}
	switch s := store.(type) {
	case Shared:
		return countingShared{c, s}
	case Locker:
		return countingLocker{c, s}
	}
	return c
}

type countingStore struct {
	store SessionStore
	errs  *prometheus.CounterVec
}

func (c countingStore) count(op string, err error) error {
	if err != nil && !errors.Is(err, ErrSessionNotFound) && !errors.Is(err, ErrLocked) && !errors.Is(err, context.Canceled) {
		c.errs.WithLabelValues(op).Inc()
	}
	return err
}

func (c countingStore) Save(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	return c.count("save", c.store.Save(ctx, id, value, ttl))
}

func (c countingStore) Load(ctx context.Context, id string) ([]byte, error) {
	b, err := c.store.Load(ctx, id)
	return b, c.count("load", err)
}

func (c countingStore) Delete(ctx context.Context, id string) error {
	return c.count("delete", c.store.Delete(ctx, id))
}

type countingLocker struct {
	countingStore
	locker Locker
}

func (c countingLocker) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	unlock, err := c.locker.Lock(ctx, name, ttl)
	return unlock, c.count("lock", err)
}

type countingShared struct {
	countingStore
	shared Shared
}

func (c countingShared) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	unlock, err := c.shared.Lock(ctx, name, ttl)
	return unlock, c.count("lock", err)
}

func (c countingShared) Revoke(ctx context.Context, id string, until time.Time) error {
	return c.count("revoke", c.shared.Revoke(ctx, id, until))
}

// WatchRevocations retries its own failures and reports none.
func (c countingShared) WatchRevocations(ctx context.Context, add func(id string, until time.Time)) {
	c.shared.WatchRevocations(ctx, add)
}
