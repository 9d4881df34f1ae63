package dns

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary packets to the handler the way the server does
// (header check, unpack, ServeDNS) and checks that it never panics, answers
// every query exactly once with the query's ID, with a message that packs,
// within the client's UDP size. Run: go test -fuzz=FuzzServeDNS ./dns
func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  uint16
	}{
		{"web.shop.svc.cluster.local.", dns.TypeA, 0},
		{"web.shop.svc.cluster.local.", dns.TypeAAAA, 1232},
		{"_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV, 0},
		{"db.shop.svc.cluster.local.", dns.TypeSRV, 4096},
		{"db-0.db.shop.svc.cluster.local.", dns.TypeA, 0},
		{"fd00-1--6.db.shop.svc.cluster.local.", dns.TypeAAAA, 0},
		{"big.shop.svc.cluster.local.", dns.TypeA, 0},
		{"ext.shop.svc.cluster.local.", dns.TypeA, 0},
		{"alias.shop.svc.cluster.local.", dns.TypeANY, 0},
		{"10.0.96.10.in-addr.arpa.", dns.TypePTR, 0},
		{reverseName(ip("fd00::10")), dns.TypePTR, 0},
		{"cluster.local.", dns.TypeSOA, 0},
		{"dns-version.cluster.local.", dns.TypeTXT, 0},
		{"example.com.", dns.TypeMX, 512},
	} {
		m := new(dns.Msg).SetQuestion(q.name, q.qtype)
		if q.edns > 0 {
			m.SetEdns0(q.edns, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}, false) // QDCOUNT 2, no questions

	h := newTestHandler(f, fixtureCatalog(), nil)
	f.Fuzz(func(t *testing.T, b []byte, tcp bool) {
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return // the server drops these or answers FORMERR itself
		}
		rec := &recorder{tcp: tcp}
		h.ServeDNS(rec, r)
		if r.Response {
			if rec.writes != 0 {
				t.Fatal("answered a response")
			}
			return
		}
		if rec.writes != 1 {
			t.Fatalf("%d writes", rec.writes)
		}
		if rec.err != nil {
			t.Fatalf("answer does not pack/unpack: %v", rec.err)
		}
		if rec.msg.Id != r.Id || !rec.msg.Response {
			t.Fatalf("bad answer header: %v", rec.msg.MsgHdr)
		}
		limit := 512
		if opt := r.IsEdns0(); opt != nil {
			limit = max(limit, int(opt.UDPSize()))
		}
		if !tcp && len(rec.wire) > limit {
			t.Fatalf("UDP answer of %d bytes over the client's %d", len(rec.wire), limit)
		}
	})
}
