package prober

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes counted in outpost_edged_probe_total's result label.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

type metrics struct {
	probes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost",
			Subsystem: "edged",
			Name:      "probe_total",
			Help:      "Container probes run, by kind (liveness, readiness, startup) and result (success, failure).",
		}, []string{"kind", "result"}),
	}
	if reg == nil {
		return m
	}
	if err := reg.Register(m.probes); err != nil {
		// Several managers may share one registry (tests, restarts in one
		// process): count into the collector already registered.
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				m.probes = existing
			}
		}
	}
	return m
}

func (m *metrics) observe(kind Kind, ok bool) {
	r := resultFailure
	if ok {
		r = resultSuccess
	}
	m.probes.WithLabelValues(string(kind), r).Inc()
}
