package certs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts the join endpoint's outcomes.
type metrics struct {
	// requests is outpost_cloudcore_certs_requests_total{endpoint, result}: result is "OK" or
	// the refusal's Reason (TokenUsed, NotBoundToNode, ...), so refusals show by cause.
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "cloudcore_certs", Name: "requests_total",
			Help: "Requests to the join endpoint by endpoint (join, renew, serviceaccount-token) and result (OK or the refusal's reason).",
		}, []string{"endpoint", "result"}),
	}
	if reg != nil {
		if err := reg.Register(m.requests); err != nil {
			return nil, fmt.Errorf("certs: register metrics: %w", err)
		}
	}
	return m, nil
}
