package hubclient

import "github.com/prometheus/client_golang/prometheus"

// metrics are the client's Prometheus metrics; a nil *metrics records nothing.
type metrics struct {
	reg        prometheus.Registerer
	sessions   prometheus.Counter
	ended      *prometheus.CounterVec
	batches    prometheus.Counter
	applied    prometheus.Counter
	statusSent prometheus.Counter
	connected  prometheus.GaugeFunc
	pending    prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, c *Client) *metrics {
	if reg == nil {
		return nil
	}
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "outpost", Subsystem: "hubclient", Name: name, Help: help}
	}
	m := &metrics{
		reg:        reg,
		sessions:   prometheus.NewCounter(opts("sessions_total", "Hub sessions established (hello sent).")),
		ended:      prometheus.NewCounterVec(opts("session_failures_total", "Dials or sessions that failed, by reason: dial, protocol, cloud_error, other."), []string{"reason"}),
		batches:    prometheus.NewCounter(opts("sync_batches_total", "Sync batches applied and acknowledged.")),
		applied:    prometheus.NewCounter(opts("sync_changes_applied_total", "Changes that modified the meta store.")),
		statusSent: prometheus.NewCounter(opts("status_updates_sent_total", "Status updates sent (resends included).")),
		connected: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "hubclient", Name: "connected",
			Help: "1 while a hub session is up."}, func() float64 {
			if c.Connected() {
				return 1
			}
			return 0
		}),
		pending: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "outpost", Subsystem: "hubclient", Name: "status_pending",
			Help: "Status updates queued or unacknowledged."}, func() float64 {
			p, f := c.status.len()
			return float64(p + f)
		}),
	}
	for _, col := range m.collectors() {
		if err := reg.Register(col); err != nil {
			c.log.Error(err, "Cannot register metric")
		}
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sessions, m.ended, m.batches, m.applied, m.statusSent, m.connected, m.pending}
}

func (m *metrics) session() {
	if m != nil {
		m.sessions.Inc()
	}
}

func (m *metrics) failure(reason string) {
	if m != nil {
		m.ended.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) batch(applied int) {
	if m != nil {
		m.batches.Inc()
		m.applied.Add(float64(applied))
	}
}

func (m *metrics) sent(n int) {
	if m != nil {
		m.statusSent.Add(float64(n))
	}
}

func (m *metrics) unregister() {
	if m == nil {
		return
	}
	for _, col := range m.collectors() {
		m.reg.Unregister(col)
	}
}
