package edgecontroller

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	changes   *prometheus.CounterVec // by op
	batches   prometheus.Counter
	acked     prometheus.Counter
	status    *prometheus.CounterVec // applied updates by resource
	refusals  *prometheus.CounterVec // refused status updates by reason
	dropped   prometheus.Counter     // objects too large to send
	unknown   prometheus.Counter     // nodes marked Ready=Unknown
	windowHit prometheus.Counter
	// The mesh snapshot: objects encoded (once per version), nodes whose cursor fell out of
	// the log (a scan instead), nodes disconnected because even the scan could not serve them.
	meshEncoded   prometheus.Counter
	meshFallbacks prometheus.Counter
	meshResyncs   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "edgecontroller", Name: name, Help: help})
	}
	cv := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "outpost", Subsystem: "edgecontroller", Name: name, Help: help}, []string{label})
	}
	m := &metrics{
		changes:       cv("changes_sent_total", "Object changes sent to edge nodes, by op.", "op"),
		batches:       c("batches_sent_total", "Sync batches sent to edge nodes."),
		acked:         c("batches_acked_total", "Sync batches acknowledged by edge nodes."),
		status:        cv("status_applied_total", "Status updates from edge nodes applied, by resource.", "resource"),
		refusals:      cv("status_refusals_total", "Status updates from edge nodes refused, by reason.", "reason"),
		dropped:       c("objects_too_large_total", "Objects not sent because they exceed a frame."),
		unknown:       c("nodes_marked_unknown_total", "Times a disconnected node's Ready condition was set to Unknown."),
		windowHit:     c("window_full_total", "Syncs that stopped at a full window."),
		meshEncoded:   c("mesh_objects_encoded_total", "Mesh objects (Services, EndpointSlices, pruned Nodes) encoded for the shared snapshot."),
		meshFallbacks: c("mesh_cursor_fallbacks_total", "Mesh syncs whose cursor fell out of the change log and scanned the snapshot."),
		meshResyncs:   c("mesh_resyncs_total", "Sessions closed because their mesh cursor was behind the forgotten tombstones."),
	}
	if reg != nil {
		reg.MustRegister(m.changes, m.batches, m.acked, m.status, m.refusals, m.dropped, m.unknown, m.windowHit, m.meshEncoded, m.meshFallbacks, m.meshResyncs)
	}
	return m
}
