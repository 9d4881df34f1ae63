package dns

import (
	"strconv"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names: outpost_dns_*.
const (
	metricsNamespace = "outpost"
	metricsSubsystem = "dns"
)

// Request sources, the "source" label of the duration histogram.
const (
	sourceZone    = "zone"    // answered from the catalog
	sourceForward = "forward" // forwarded upstream (or from the cache)
	sourceError   = "error"   // refused before looking (FORMERR, NOTIMP...)
)

// metricTypes are the query types with their own "type" label value; the rest
// count as "other", keeping the label's cardinality bounded.
var metricTypes = []uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeCNAME, dns.TypeTXT,
	dns.TypeMX, dns.TypeNS, dns.TypeSOA, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB,
}

const maxMetricRcode = dns.RcodeBadVers + 1 // rcodes above count as the last slot

type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	cacheHits  prometheus.Counter
	cacheMiss  prometheus.Counter
	upstreamEr *prometheus.CounterVec
	invalid    prometheus.Counter
	cacheSize  prometheus.Gauge

	// counters resolved once per (type, rcode), so the hot path does no label
	// hashing or variadic allocation.
	byType [13][maxMetricRcode + 1]atomic.Pointer[prometheus.Counter]
	bySrc  [3]prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "requests_total",
			Help: "DNS requests answered, by query type and response code.",
		}, []string{"type", "rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "request_duration_seconds",
			Help:    "Time to answer a DNS request, by source (zone, forward, error).",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"source"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_hits_total",
			Help: "Forwarded queries answered from the cache.",
		}),
		cacheMiss: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_misses_total",
			Help: "Forwarded queries not found in the cache.",
		}),
		upstreamEr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "upstream_errors_total",
			Help: "Failed exchanges with an upstream resolver (timeout, network error, SERVFAIL/REFUSED).",
		}, []string{"upstream"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "invalid_requests_total",
			Help: "Packets that could not be parsed as a DNS query.",
		}),
		cacheSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_entries",
			Help: "Upstream answers in the cache.",
		}),
	}
	m.bySrc[0] = m.duration.WithLabelValues(sourceZone)
	m.bySrc[1] = m.duration.WithLabelValues(sourceForward)
	m.bySrc[2] = m.duration.WithLabelValues(sourceError)
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.cacheHits, m.cacheMiss, m.upstreamEr, m.invalid, m.cacheSize} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// request counts one answered request.
func (m *metrics) request(qtype uint16, rcode int) {
	t := len(metricTypes) // "other"
	for i, mt := range metricTypes {
		if mt == qtype {
			t = i
			break
		}
	}
	if rcode < 0 || rcode > maxMetricRcode {
		rcode = maxMetricRcode
	}
	slot := &m.byType[t][rcode]
	c := slot.Load()
	if c == nil {
		typ := "other"
		if t < len(metricTypes) {
			typ = dns.TypeToString[metricTypes[t]]
		}
		rc, ok := dns.RcodeToString[rcode]
		if !ok || rcode == maxMetricRcode {
			rc = "other"
		}
		if rc == "" {
			rc = strconv.Itoa(rcode)
		}
		counter := m.requests.WithLabelValues(typ, rc)
		slot.CompareAndSwap(nil, &counter)
		c = slot.Load()
	}
	(*c).Inc()
}

func (m *metrics) observe(source int, seconds float64) { m.bySrc[source].Observe(seconds) }
