package certs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a renewal attempt, the label of outpost_edgecore_cert_renewals_total.
const (
	resultSuccess = "success"
	// resultError: the cloud could not be reached or refused (the certificate may be expired).
	resultError = "error"
	// resultInvalid: the cloud answered a certificate that failed verification, or it could
	// not be written.
	resultInvalid = "invalid"
)

type metrics struct {
	expiry   prometheus.Gauge
	renewals *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "edgecore", Name: "cert_expiry_seconds",
			Help: "NotAfter of the node certificate in use, as Unix time.",
		}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edgecore", Name: "cert_renewals_total",
			Help: "Node certificate renewal attempts by result (success, error, invalid).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.expiry, m.renewals} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("certs: register metrics: %w", err)
		}
	}
	return m, nil
}
