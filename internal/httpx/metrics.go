package httpx

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DurationBuckets are the histogram buckets, in seconds, of request and
// upstream durations: fine below 100 ms, where a proxy's overhead shows.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// MustRegister registers c with reg and returns it, or returns the
// collector already registered under the same description, so that two
// servers in one process share one family. A conflicting registration is a
// programming error and panics.
func MustRegister[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

// Metrics are the request metrics of one server. A nil *Metrics records
// nothing and costs nothing.
type Metrics struct {
	requests *prometheus.CounterVec // curried with the server's name
	duration prometheus.ObserverVec
	// unrouted counts requests no route claimed (unknown paths).
	unrouted *RouteMetrics
}

// NoRoute is the route label of requests that no route served.
const NoRoute = "none"

// NewMetrics registers the request families with reg, or joins them when
// another server in the process did, and returns the metrics of server.
// A nil reg gives nil.
func NewMetrics(reg prometheus.Registerer, server string) *Metrics {
	if reg == nil {
		return nil
	}
	requests := MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_http_requests_total",
		Help: "HTTP requests answered, by server, route and status code.",
	}, []string{"server", "route", "code"}))
	duration := MustRegister(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_http_request_duration_seconds",
		Help:    "Time from receiving a request to its handler returning, by server and route.",
		Buckets: DurationBuckets,
	}, []string{"server", "route"}))
	labels := prometheus.Labels{"server": server}
	m := &Metrics{requests: requests.MustCurryWith(labels), duration: duration.MustCurryWith(labels)}
	m.unrouted = m.Route(NoRoute)
	return m
}

// Route returns the metrics of one route, to resolve once when routes are
// built and hand to Record.SetRoute on each request: looking children up
// by label values on every request would cost a hash and a lock.
func (m *Metrics) Route(name string) *RouteMetrics {
	if m == nil {
		return nil
	}
	return &RouteMetrics{route: name, requests: m.requests, duration: m.duration.WithLabelValues(name)}
}

// RouteMetrics are the request metrics of one route.
type RouteMetrics struct {
	route    string
	requests *prometheus.CounterVec
	duration prometheus.Observer
	// codes are the request counters by status slot, resolved on first
	// use so that only codes that happen are exported.
	codes [len(exactCodes) + 6]atomic.Pointer[prometheus.Counter]
}

// exactCodes are the status codes counted under their own label; others
// are counted by class ("4xx"). A fixed set keeps the label's values, and
// so the number of series, bounded.
var exactCodes = [...]int{101, 200, 201, 204, 206, 301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 408, 409, 413, 429, 500, 501, 502, 503, 504}

// statusSlot returns the index of code's counter.
func statusSlot(code int) int {
	for i, c := range exactCodes {
		if c == code {
			return i
		}
	}
	if class := code / 100; class >= 1 && class <= 5 {
		return len(exactCodes) + class - 1
	}
	return len(exactCodes) + 5
}

// slotLabel is the code label of a status slot.
func slotLabel(slot int) string {
	switch {
	case slot < len(exactCodes):
		return strconv.Itoa(exactCodes[slot])
	case slot < len(exactCodes)+5:
		return strconv.Itoa(slot-len(exactCodes)+1) + "xx"
	}
	// The connection was aborted before any status was sent.
	return "none"
}

func (m *RouteMetrics) observe(status int, d time.Duration) {
	i := statusSlot(status)
	c := m.codes[i].Load()
	if c == nil {
		counter := m.requests.WithLabelValues(m.route, slotLabel(i))
		c = &counter
		m.codes[i].Store(c)
	}
	(*c).Inc()
	m.duration.Observe(d.Seconds())
}
