package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Connection results, the "result" label of outpost_proxy_connections_total.
const (
	resultOK          = "ok"
	resultNoEndpoints = "no_endpoints"
	resultDialError   = "dial_error"
	resultFlowLimit   = "flow_limit"
)

// metrics are the proxy's Prometheus collectors. Labels: service is "namespace/name:port",
// protocol "TCP" or "UDP".
type metrics struct {
	connections *prometheus.CounterVec // service, protocol, result
	active      *prometheus.GaugeVec   // service, protocol
	bytes       *prometheus.CounterVec // service, protocol, direction
	ejections   *prometheus.CounterVec // service
	udpFlows    *prometheus.GaugeVec   // service
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "proxy", Name: "connections_total",
			Help: "Proxied TCP connections and UDP flows by service and result (ok, no_endpoints, dial_error, flow_limit).",
		}, []string{"service", "protocol", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "proxy", Name: "active_connections",
			Help: "Open proxied TCP connections and UDP flows.",
		}, []string{"service", "protocol"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "proxy", Name: "bytes_total",
			Help: "Bytes proxied, by direction (to_backend, to_client); TCP counts at connection end.",
		}, []string{"service", "protocol", "direction"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "proxy", Name: "endpoint_ejections_total",
			Help: "Endpoints ejected after consecutive connect failures.",
		}, []string{"service"}),
		udpFlows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "proxy", Name: "udp_flows",
			Help: "Open UDP flows.",
		}, []string{"service"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.connections, m.active, m.bytes, m.ejections, m.udpFlows} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// portMetrics are the collectors of one service port, resolved once so the data path
// does no label lookups.
type portMetrics struct {
	ok, noEndpoints, dialError, flowLimit prometheus.Counter
	active                                prometheus.Gauge
	toBackend, toClient                   prometheus.Counter
	ejections                             prometheus.Counter
	udpFlows                              prometheus.Gauge
}

func (m *metrics) forPort(service, proto string) *portMetrics {
	return &portMetrics{
		ok:          m.connections.WithLabelValues(service, proto, resultOK),
		noEndpoints: m.connections.WithLabelValues(service, proto, resultNoEndpoints),
		dialError:   m.connections.WithLabelValues(service, proto, resultDialError),
		flowLimit:   m.connections.WithLabelValues(service, proto, resultFlowLimit),
		active:      m.active.WithLabelValues(service, proto),
		toBackend:   m.bytes.WithLabelValues(service, proto, "to_backend"),
		toClient:    m.bytes.WithLabelValues(service, proto, "to_client"),
		ejections:   m.ejections.WithLabelValues(service),
		udpFlows:    m.udpFlows.WithLabelValues(service),
	}
}

// forget drops the series of a removed service port.
func (m *metrics) forget(service string) {
	for _, v := range []*prometheus.MetricVec{m.connections.MetricVec, m.active.MetricVec, m.bytes.MetricVec, m.ejections.MetricVec, m.udpFlows.MetricVec} {
		v.DeletePartialMatch(prometheus.Labels{"service": service})
	}
}
