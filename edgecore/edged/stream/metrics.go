package stream

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "outpost",
		Subsystem: "edged",
		Name:      "stream_requests_total",
		Help:      "Kubelet API requests served by edged, by handler (logs, exec, attach, portforward, healthz) and HTTP status code.",
	}, []string{"handler", "code"})}
	if reg == nil {
		return m
	}
	if err := reg.Register(m.requests); err != nil {
		// Share the collector of an earlier Server on the same registry.
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if c, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				m.requests = c
			}
		}
	}
	return m
}

func (m *metrics) observe(handler string, code int) {
	m.requests.WithLabelValues(handler, strconv.Itoa(code)).Inc()
}
