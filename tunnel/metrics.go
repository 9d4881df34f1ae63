package tunnel

import "github.com/prometheus/client_golang/prometheus"

// metrics are the agent's counters; per-peer path facts are read from Status at scrape time
// by statusCollector, so they never go stale or leak label sets of departed peers.
type metrics struct {
	refusals  *prometheus.CounterVec
	streams   *prometheus.CounterVec
	punches   *prometheus.CounterVec
	paths     *prometheus.CounterVec
	lan       *prometheus.CounterVec
	relayUp   *prometheus.GaugeVec
	datagrams *prometheus.CounterVec
	deadPaths *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, a *Agent) *metrics {
	m := &metrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "identity_refusals_total",
			Help: "Peer certificates refused, by side (client, server) and reason.",
		}, []string{"side", "reason"}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "streams_total",
			Help: "Streams by direction (dialed, accepted, refused) and path (direct, relay).",
		}, []string{"direction", "path"}),
		punches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "punch_attempts_total",
			Help: "ICE attempts by result (ok, failed).",
		}, []string{"result"}),
		paths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "path_changes_total",
			Help: "Changes of a peer's active path, by new path (direct, relay, none).",
		}, []string{"path"}),
		lan: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "lan_announcements_total",
			Help: "LAN announcements received, by result (ok, invalid, replay, self).",
		}, []string{"result"}),
		relayUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "relay_up",
			Help: "1 while the signalling session and TURN allocation with a relay are up.",
		}, []string{"relay"}),
		datagrams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "datagrams_total",
			Help: "Datagrams by direction (sent, received, dropped).",
		}, []string{"direction"}),
		deadPaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "tunnel", Name: "dead_paths_total",
			Help: "Connections closed because their path went silent, by path (direct, relay).",
		}, []string{"path"}),
	}
	if reg != nil {
		reg.MustRegister(m.refusals, m.streams, m.punches, m.paths, m.lan, m.relayUp, m.datagrams, m.deadPaths,
			&statusCollector{a: a})
	}
	return m
}

var (
	descPeerPath = prometheus.NewDesc("outpost_tunnel_peer_path",
		"1 for a peer's active path (direct or relay) and relay.", []string{"peer", "path", "relay", "local_candidate", "remote_candidate"}, nil)
	descPeerRTT = prometheus.NewDesc("outpost_tunnel_peer_rtt_seconds",
		"Smoothed RTT of the active path.", []string{"peer"}, nil)
	descPeerSent = prometheus.NewDesc("outpost_tunnel_peer_sent_bytes_total",
		"Bytes sent to a peer on its current connections (QUIC, including overhead).", []string{"peer"}, nil)
	descPeerRecv = prometheus.NewDesc("outpost_tunnel_peer_received_bytes_total",
		"Bytes received from a peer on its current connections.", []string{"peer"}, nil)
	descPeerSince = prometheus.NewDesc("outpost_tunnel_peer_path_age_seconds",
		"Seconds since the peer's active path last changed.", []string{"peer"}, nil)
)

type statusCollector struct{ a *Agent }

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeerPath, descPeerRTT, descPeerSent, descPeerRecv, descPeerSince} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.a.Status() {
		ch <- prometheus.MustNewConstMetric(descPeerPath, prometheus.GaugeValue, 1,
			s.Peer, string(s.Path), s.Relay, s.LocalCandidate, s.RemoteCandidate)
		ch <- prometheus.MustNewConstMetric(descPeerRTT, prometheus.GaugeValue, s.RTT.Seconds(), s.Peer)
		ch <- prometheus.MustNewConstMetric(descPeerSent, prometheus.CounterValue, float64(s.BytesSent), s.Peer)
		ch <- prometheus.MustNewConstMetric(descPeerRecv, prometheus.CounterValue, float64(s.BytesReceived), s.Peer)
		ch <- prometheus.MustNewConstMetric(descPeerSince, prometheus.GaugeValue, s.SincePathChange.Seconds(), s.Peer)
	}
}
