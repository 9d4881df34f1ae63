package dns

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) { o.Registerer = reg })
	query(t, h, "web.shop.svc.cluster.local.", dns.TypeA, false, 0)
	query(t, h, "web.shop.svc.cluster.local.", dns.TypeA, false, 0)
	query(t, h, "nope.shop.svc.cluster.local.", dns.TypeAAAA, false, 0)
	query(t, h, "web.shop.svc.cluster.local.", dns.TypeNAPTR, false, 0) // "other"
	query(t, h, "example.com.", dns.TypeA, false, 0)                    // no upstream: SERVFAIL

	want := `
# HELP outpost_dns_requests_total DNS requests answered, by query type and response code.
# TYPE outpost_dns_requests_total counter
outpost_dns_requests_total{rcode="NOERROR",type="A"} 2
outpost_dns_requests_total{rcode="NXDOMAIN",type="AAAA"} 1
outpost_dns_requests_total{rcode="NOERROR",type="other"} 1
outpost_dns_requests_total{rcode="SERVFAIL",type="A"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "outpost_dns_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(h.metrics.duration); n != 3 {
		t.Fatalf("%d duration series, want 3 (zone, forward, error)", n)
	}
	if got := testutil.ToFloat64(h.metrics.cacheMiss); got != 1 {
		t.Fatalf("cache misses %v", got)
	}
}
