package hub

import "github.com/prometheus/client_golang/prometheus"

// Refusal reasons (label values of outpost_hub_refusals_total).
const (
	reasonTLS           = "tls_handshake"
	reasonNoCert        = "no_client_certificate"
	reasonBadCert       = "bad_client_certificate"
	reasonSubprotocol   = "subprotocol"
	reasonUpgrade       = "upgrade"
	reasonNoHello       = "no_hello"
	reasonNodeMismatch  = "node_mismatch"
	reasonFrameTooLarge = "frame_too_large"
	reasonMalformed     = "malformed_frame"
	reasonUnexpected    = "unexpected_frame"
	reasonHeartbeat     = "heartbeat_timeout"
)

type metrics struct {
	connected prometheus.Gauge
	framesIn  *prometheus.CounterVec
	framesOut *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	unacked   prometheus.Gauge
	replaced  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "connected_nodes",
			Help: "Edge nodes with a live hub session.",
		}),
		framesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "frames_received_total",
			Help: "Control frames received from edge nodes, by type.",
		}, []string{"type"}),
		framesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "frames_sent_total",
			Help: "Control frames sent to edge nodes, by type.",
		}, []string{"type"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "refusals_total",
			Help: "Sessions refused or closed for bad input or missed heartbeats, by reason.",
		}, []string{"reason"}),
		unacked: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "unacked_batches",
			Help: "Sync batches sent and not yet acknowledged, all nodes.",
		}),
		replaced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "hub", Name: "sessions_replaced_total",
			Help: "Sessions closed because the same node connected again.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.connected, m.framesIn, m.framesOut, m.refusals, m.unacked, m.replaced)
	}
	return m
}
