package edged

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	syncs             *prometheus.CounterVec
	syncSeconds       prometheus.Histogram
	statusSent        prometheus.Counter
	sandboxesStarted  prometheus.Counter
	containersStarted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edged", Name: "pod_syncs_total", Help: "Pod syncs by result.",
		}, []string{"result"}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "outpost", Subsystem: "edged", Name: "pod_sync_duration_seconds", Help: "Duration of one pod sync.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		statusSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edged", Name: "pod_status_updates_total", Help: "Pod status updates queued for the cloud.",
		}),
		sandboxesStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edged", Name: "sandboxes_started_total", Help: "Pod sandboxes started.",
		}),
		containersStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edged", Name: "containers_started_total", Help: "Containers started.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.syncs, m.syncSeconds, m.statusSent, m.sandboxesStarted, m.containersStarted)
	}
	return m
}

func (m *metrics) observeSync(err error, d time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.syncs.WithLabelValues(result).Inc()
	m.syncSeconds.Observe(d.Seconds())
}
