package dns

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// benchCatalog holds n ClusterIP services svc<i>.ns<i%100>, as the benchmark
// program serves.
func benchCatalog(n int) *MemoryCatalog {
	c := NewMemoryCatalog()
	for i := range n {
		c.Upsert(Service{
			Name: fmt.Sprintf("svc%d", i), Namespace: fmt.Sprintf("ns%d", i%100), Type: ClusterIP,
			ClusterIPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})},
			Ports:      []Port{{Name: "http", Protocol: "TCP", Port: 80}},
		})
	}
	return c
}

// discard is a ResponseWriter that packs the answer (as the server would) and
// drops it.
type discard struct{ recorder }

func (d *discard) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}

func benchHandler(b *testing.B, name string, qtype uint16) {
	h := newTestHandler(b, benchCatalog(10000), nil)
	r := new(dns.Msg).SetQuestion(name, qtype)
	w := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeDNS(w, r)
	}
}

func BenchmarkServeA(b *testing.B) {
	benchHandler(b, "svc1234.ns34.svc.cluster.local.", dns.TypeA)
}

func BenchmarkServeNXDOMAIN(b *testing.B) {
	benchHandler(b, "example.com.ns34.svc.cluster.local.", dns.TypeA)
}

func BenchmarkServeSRV(b *testing.B) {
	benchHandler(b, "_http._tcp.svc1234.ns34.svc.cluster.local.", dns.TypeSRV)
}

func BenchmarkServePTR(b *testing.B) {
	benchHandler(b, "210.4.96.10.in-addr.arpa.", dns.TypePTR)
}

func BenchmarkServeParallel(b *testing.B) {
	h := newTestHandler(b, benchCatalog(10000), nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := new(dns.Msg).SetQuestion("svc1234.ns34.svc.cluster.local.", dns.TypeA)
		w := &discard{}
		for pb.Next() {
			h.ServeDNS(w, r)
		}
	})
}

func BenchmarkCatalogService(b *testing.B) {
	c := benchCatalog(10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Service("ns34", "svc1234"); !ok {
			b.Fatal("missing")
		}
	}
}
