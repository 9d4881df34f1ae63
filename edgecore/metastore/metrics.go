package metastore

import "github.com/prometheus/client_golang/prometheus"

// metrics are the store's Prometheus metrics; a nil *metrics records nothing.
type metrics struct {
	reg      prometheus.Registerer
	changes  *prometheus.CounterVec
	failures prometheus.Counter
	revision prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		reg: reg,
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "metastore", Name: "changes_total",
			Help: "Changes given to Apply, by result (applied or skipped as not newer).",
		}, []string{"result"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "metastore", Name: "apply_failures_total",
			Help: "Apply batches rolled back.",
		}),
		revision: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "metastore", Name: "revision",
			Help: "The store's current local revision.",
		}, func() float64 { return float64(s.Revision()) }),
	}
	for _, c := range []prometheus.Collector{m.changes, m.failures, m.revision} {
		if err := reg.Register(c); err != nil {
			s.log.Error(err, "Cannot register metric")
		}
	}
	return m
}

func (m *metrics) applied(applied, skipped int, _ int64) {
	if m == nil {
		return
	}
	m.changes.WithLabelValues("applied").Add(float64(applied))
	m.changes.WithLabelValues("skipped").Add(float64(skipped))
}

func (m *metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

func (m *metrics) unregister() {
	if m == nil {
		return
	}
	m.reg.Unregister(m.changes)
	m.reg.Unregister(m.failures)
	m.reg.Unregister(m.revision)
}
