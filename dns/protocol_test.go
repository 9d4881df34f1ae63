package dns

import (
	"testing"

	"github.com/miekg/dns"
)

func TestHandlerProtocol(t *testing.T) {
	h := newTestHandler(t, fixtureCatalog(), nil)
	serve := func(r *dns.Msg, tcp bool) *recorder {
		rec := &recorder{tcp: tcp}
		h.ServeDNS(rec, r)
		return rec
	}
	q := func(name string, qtype uint16) *dns.Msg { return new(dns.Msg).SetQuestion(name, qtype) }

	t.Run("opcode other than query is NOTIMP", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.Opcode = dns.OpcodeUpdate
		if rec := serve(r, false); rec.msg.Rcode != dns.RcodeNotImplemented || rec.msg.Opcode != dns.OpcodeUpdate {
			t.Fatalf("got %s opcode %d", dns.RcodeToString[rec.msg.Rcode], rec.msg.Opcode)
		}
	})
	t.Run("no question is FORMERR", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.Question = nil
		if rec := serve(r, false); rec.msg.Rcode != dns.RcodeFormatError {
			t.Fatalf("got %s", dns.RcodeToString[rec.msg.Rcode])
		}
	})
	t.Run("two questions is FORMERR", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.Question = append(r.Question, r.Question[0])
		if rec := serve(r, false); rec.msg.Rcode != dns.RcodeFormatError {
			t.Fatalf("got %s", dns.RcodeToString[rec.msg.Rcode])
		}
	})
	t.Run("responses are not answered", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.Response = true
		if rec := serve(r, false); rec.writes != 0 {
			t.Fatalf("answered a response")
		}
	})
	t.Run("EDNS version 1 is BADVERS", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.SetEdns0(1232, false)
		r.IsEdns0().SetVersion(1)
		rec := serve(r, false)
		if rec.msg.Rcode != dns.RcodeBadVers || rec.msg.IsEdns0() == nil {
			t.Fatalf("got %s, opt %v", dns.RcodeToString[rec.msg.Rcode], rec.msg.IsEdns0())
		}
	})
	t.Run("EDNS echo keeps DO and advertises our size", func(t *testing.T) {
		r := q("web.shop.svc.cluster.local.", dns.TypeA)
		r.SetEdns0(4096, true)
		opt := serve(r, false).msg.IsEdns0()
		if opt == nil || !opt.Do() || opt.UDPSize() != DefaultUDPSize || opt.Version() != 0 {
			t.Fatalf("opt %v", opt)
		}
	})
	t.Run("no EDNS in, no EDNS out", func(t *testing.T) {
		if opt := serve(q("web.shop.svc.cluster.local.", dns.TypeA), false).msg.IsEdns0(); opt != nil {
			t.Fatalf("unexpected opt %v", opt)
		}
	})
	t.Run("class CHAOS refused", func(t *testing.T) {
		r := q("version.bind.", dns.TypeTXT)
		r.Question[0].Qclass = dns.ClassCHAOS
		if rec := serve(r, false); rec.msg.Rcode != dns.RcodeRefused {
			t.Fatalf("got %s", dns.RcodeToString[rec.msg.Rcode])
		}
	})
	t.Run("AXFR refused", func(t *testing.T) {
		if rec := serve(q("cluster.local.", dns.TypeAXFR), true); rec.msg.Rcode != dns.RcodeRefused {
			t.Fatalf("got %s", dns.RcodeToString[rec.msg.Rcode])
		}
	})
}

func TestHandlerTruncation(t *testing.T) {
	h := newTestHandler(t, fixtureCatalog(), nil)
	const name = "big.shop.svc.cluster.local."
	tests := []struct {
		name      string
		tcp       bool
		edns      uint16
		truncated bool
		maxLen    int
	}{
		{name: "udp 512", truncated: true, maxLen: 512},
		{name: "udp edns 1232", edns: 1232, truncated: true, maxLen: 1232},
		{name: "udp edns 4096 fits", edns: 4096, maxLen: 4096},
		{name: "udp edns below 512 counts as 512", edns: 100, truncated: true, maxLen: 512},
		{name: "tcp whole", tcp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := new(dns.Msg).SetQuestion(name, dns.TypeA)
			if tc.edns > 0 {
				r.SetEdns0(tc.edns, false)
			}
			rec := &recorder{tcp: tc.tcp}
			h.ServeDNS(rec, r)
			m := rec.msg
			if m.Truncated != tc.truncated {
				t.Fatalf("TC %v, want %v (%d answers, %d bytes)", m.Truncated, tc.truncated, len(m.Answer), len(rec.wire))
			}
			if tc.maxLen > 0 && len(rec.wire) > tc.maxLen {
				t.Fatalf("%d bytes over %d", len(rec.wire), tc.maxLen)
			}
			if !tc.truncated && len(m.Answer) != 100 {
				t.Fatalf("%d answers, want 100", len(m.Answer))
			}
			if tc.edns > 0 && m.IsEdns0() == nil {
				t.Fatalf("OPT dropped by truncation")
			}
		})
	}
}
