package relay

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sessions      prometheus.Gauge
	handshakes    *prometheus.CounterVec
	signals       *prometheus.CounterVec
	frameErrors   *prometheus.CounterVec
	allocations   prometheus.GaugeFunc
	credentialsOK prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, allocations func() float64) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "sessions",
			Help: "Authenticated signalling sessions.",
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "handshakes_total",
			Help: "Signalling handshakes by result (ok, tls, unauthenticated).",
		}, []string{"result"}),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "signals_total",
			Help: "Signals by result (delivered, offline, rate_limited).",
		}, []string{"result"}),
		frameErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "frame_errors_total",
			Help: "Sessions closed for bad frames, by reason (too_large, malformed).",
		}, []string{"reason"}),
		allocations: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "turn_allocations",
			Help: "Live TURN allocations.",
		}, allocations),
		credentialsOK: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "relay", Name: "turn_credentials_issued_total",
			Help: "TURN credentials handed to authenticated agents.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.handshakes, m.signals, m.frameErrors, m.allocations, m.credentialsOK)
	}
	return m
}
