package metaserver

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics; a nil *metrics records nothing.
type metrics struct {
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "outpost", Subsystem: "metaserver", Name: "requests_total",
		Help: "Requests served, by verb (get, list, watch, discovery, health, other) and HTTP code.",
	}, []string{"verb", "code"})}
	if err := reg.Register(m.requests); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			m.requests = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return m
}

func (m *metrics) observe(verb string, code int) {
	if m != nil {
		m.requests.WithLabelValues(verb, strconv.Itoa(code)).Inc()
	}
}
