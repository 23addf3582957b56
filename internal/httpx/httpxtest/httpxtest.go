// Package httpxtest reads metrics the way Prometheus does, for tests: it
// scrapes a registry through the real /metrics handler and parses the
// exposition text.
package httpxtest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are the families of one scrape, by name.
type Metrics map[string]*dto.MetricFamily

// Scrape gathers reg through promhttp's handler and parses the answer.
func Scrape(t testing.TB, reg prometheus.Gatherer) Metrics {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// Value is the value of the counter, or the sample count of the
// histogram, in family with exactly these labels; 0 when there is none, as
// for a counter that has not moved.
func (m Metrics) Value(family string, labels map[string]string) float64 {
	f := m[family]
	if f == nil {
		return 0
	}
next:
	for _, s := range f.Metric {
		if len(s.Label) != len(labels) {
			continue
		}
		for _, l := range s.Label {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		if h := s.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return s.GetCounter().GetValue()
	}
	return 0
}
