package dns

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

const (
	soaOwner = "cluster.local."
	z        = ".cluster.local."
)

func TestHandlerZone(t *testing.T) {
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) {
		o.ReverseCIDRs = []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}
	})

	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		soa    bool // SOA expected in authority (negative answers)
	}{
		// ClusterIP.
		{name: "clusterip A", qname: "web.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"web.shop.svc.cluster.local. A 10.96.0.10"}},
		{name: "clusterip AAAA", qname: "web.shop.svc" + z, qtype: dns.TypeAAAA,
			answer: []string{"web.shop.svc.cluster.local. AAAA fd00::10"}},
		{name: "case preserved", qname: "WeB.Shop.SVC.Cluster.Local.", qtype: dns.TypeA,
			answer: []string{"WeB.Shop.SVC.Cluster.Local. A 10.96.0.10"}},
		{name: "v4 only AAAA is NODATA", qname: "v4only.shop.svc" + z, qtype: dns.TypeAAAA, soa: true},
		{name: "clusterip MX is NODATA", qname: "web.shop.svc" + z, qtype: dns.TypeMX, soa: true},
		{name: "clusterip SRV bare name", qname: "web.shop.svc" + z, qtype: dns.TypeSRV,
			answer: []string{
				"web.shop.svc.cluster.local. SRV 0 100 53 web.shop.svc.cluster.local.",
				"web.shop.svc.cluster.local. SRV 0 100 80 web.shop.svc.cluster.local.",
			},
			extra: []string{
				"web.shop.svc.cluster.local. A 10.96.0.10", "web.shop.svc.cluster.local. A 10.96.0.10",
				"web.shop.svc.cluster.local. AAAA fd00::10", "web.shop.svc.cluster.local. AAAA fd00::10",
			}},
		{name: "clusterip SRV port", qname: "_http._tcp.web.shop.svc" + z, qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.shop.svc.cluster.local. SRV 0 100 80 web.shop.svc.cluster.local."},
			extra:  []string{"web.shop.svc.cluster.local. A 10.96.0.10", "web.shop.svc.cluster.local. AAAA fd00::10"}},
		{name: "SRV proto case-insensitive", qname: "_dns._UDP.web.shop.svc" + z, qtype: dns.TypeSRV,
			answer: []string{"_dns._UDP.web.shop.svc.cluster.local. SRV 0 100 53 web.shop.svc.cluster.local."},
			extra:  []string{"web.shop.svc.cluster.local. A 10.96.0.10", "web.shop.svc.cluster.local. AAAA fd00::10"}},
		{name: "SRV wrong proto", qname: "_http._udp.web.shop.svc" + z, qtype: dns.TypeSRV, rcode: dns.RcodeNameError, soa: true},
		{name: "SRV unknown port", qname: "_nope._tcp.web.shop.svc" + z, qtype: dns.TypeSRV, rcode: dns.RcodeNameError, soa: true},
		{name: "SRV port name asked A", qname: "_http._tcp.web.shop.svc" + z, qtype: dns.TypeA, soa: true},
		{name: "proto empty non-terminal", qname: "_tcp.web.shop.svc" + z, qtype: dns.TypeA, soa: true},
		{name: "proto without named port", qname: "_sctp.web.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "per-pod name on clusterip", qname: "x.web.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},

		// Headless.
		{name: "headless A ready only", qname: "db.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"db.shop.svc.cluster.local. A 10.1.0.5", "db.shop.svc.cluster.local. A 10.1.0.6"}},
		{name: "headless AAAA", qname: "db.shop.svc" + z, qtype: dns.TypeAAAA,
			answer: []string{"db.shop.svc.cluster.local. AAAA fd00:1::6"}},
		{name: "headless hostname", qname: "db-0.db.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"db-0.db.shop.svc.cluster.local. A 10.1.0.5"}},
		{name: "headless hostname AAAA NODATA", qname: "db-0.db.shop.svc" + z, qtype: dns.TypeAAAA, soa: true},
		{name: "headless dashed v4", qname: "10-1-0-6.db.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"10-1-0-6.db.shop.svc.cluster.local. A 10.1.0.6"}},
		{name: "headless dashed v6", qname: "fd00-1--6.db.shop.svc" + z, qtype: dns.TypeAAAA,
			answer: []string{"fd00-1--6.db.shop.svc.cluster.local. AAAA fd00:1::6"}},
		{name: "dashed name of endpoint with hostname", qname: "10-1-0-5.db.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "not ready hostname", qname: "db-2.db.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "publish not ready", qname: "peers.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"peers.shop.svc.cluster.local. A 10.1.0.9"}},
		{name: "publish not ready hostname", qname: "peer-0.peers.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"peer-0.peers.shop.svc.cluster.local. A 10.1.0.9"}},
		{name: "headless SRV port", qname: "_pg._tcp.db.shop.svc" + z, qtype: dns.TypeSRV,
			answer: []string{
				"_pg._tcp.db.shop.svc.cluster.local. SRV 0 33 5432 10-1-0-6.db.shop.svc.cluster.local.",
				"_pg._tcp.db.shop.svc.cluster.local. SRV 0 33 5432 db-0.db.shop.svc.cluster.local.",
				"_pg._tcp.db.shop.svc.cluster.local. SRV 0 33 5432 fd00-1--6.db.shop.svc.cluster.local.",
			},
			extra: []string{
				"10-1-0-6.db.shop.svc.cluster.local. A 10.1.0.6",
				"db-0.db.shop.svc.cluster.local. A 10.1.0.5",
				"fd00-1--6.db.shop.svc.cluster.local. AAAA fd00:1::6",
			}},
		{name: "headless no endpoints NODATA", qname: "empty.shop.svc" + z, qtype: dns.TypeA, soa: true},

		// ExternalName.
		{name: "externalname CNAME", qname: "ext.shop.svc" + z, qtype: dns.TypeCNAME,
			answer: []string{"ext.shop.svc.cluster.local. CNAME api.example.com."}},
		{name: "externalname A without upstream", qname: "ext.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{"ext.shop.svc.cluster.local. CNAME api.example.com."}},
		{name: "externalname into the zone is chased", qname: "alias.shop.svc" + z, qtype: dns.TypeA,
			answer: []string{
				"alias.shop.svc.cluster.local. CNAME web.shop.svc.cluster.local.",
				"web.shop.svc.cluster.local. A 10.96.0.10",
			}},

		// Zone structure.
		{name: "apex SOA", qname: "cluster.local.", qtype: dns.TypeSOA,
			answer: []string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"}},
		{name: "apex A NODATA", qname: "cluster.local.", qtype: dns.TypeA, soa: true},
		{name: "dns-version", qname: "dns-version" + z, qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. TXT "1.1.0"`}},
		{name: "svc intermediate", qname: "svc" + z, qtype: dns.TypeA, soa: true},
		{name: "namespace intermediate", qname: "shop.svc" + z, qtype: dns.TypeA, soa: true},
		{name: "unknown namespace", qname: "nope.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "unknown service", qname: "nope.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "search path miss", qname: "example.com.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "too deep", qname: "a.b._http._tcp.web.shop.svc" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "not svc", qname: "foo" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{name: "pod records not served", qname: "10-1-0-5.shop.pod" + z, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},

		// Reverse.
		{name: "PTR clusterip", qname: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"10.0.96.10.in-addr.arpa. PTR web.shop.svc.cluster.local."}},
		{name: "PTR clusterip v6", qname: reverseName(ip("fd00::10")), qtype: dns.TypePTR,
			answer: []string{reverseName(ip("fd00::10")) + " PTR web.shop.svc.cluster.local."}},
		{name: "PTR headless hostname", qname: "5.0.1.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"5.0.1.10.in-addr.arpa. PTR db-0.db.shop.svc.cluster.local."}},
		{name: "PTR headless dashed", qname: "6.0.1.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"6.0.1.10.in-addr.arpa. PTR 10-1-0-6.db.shop.svc.cluster.local."}},
		{name: "PTR not ready endpoint in CIDR-less range goes upstream", qname: "7.0.1.10.in-addr.arpa.", qtype: dns.TypePTR,
			rcode: dns.RcodeServerFailure},
		{name: "PTR unknown in reverse CIDR", qname: "99.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeNameError},
		{name: "PTR name asked A", qname: "10.0.96.10.in-addr.arpa.", qtype: dns.TypeA},

		// Outside the zone, no upstream.
		{name: "forward without upstream", qname: "example.com.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure},
		{name: "other zone suffix", qname: "xcluster.local.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := query(t, h, tc.qname, tc.qtype, false, 4096)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			got := rrs(m.Answer)
			want := slices.Sorted(slices.Values(tc.answer))
			for i := range got {
				if soa, ok := m.Answer[i].(*dns.SOA); ok && soa != nil {
					got = []string{replaceSerial(got[i], soa.Serial)}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("answer\n got %q\nwant %q", got, want)
			}
			if tc.extra != nil {
				if got, want := rrs(m.Extra), slices.Sorted(slices.Values(tc.extra)); !slices.Equal(got, want) {
					t.Errorf("extra\n got %q\nwant %q", got, want)
				}
			}
			hasSOA := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA
			if tc.soa && (!hasSOA || m.Ns[0].Header().Name != soaOwner) {
				t.Errorf("authority %v, want the zone's SOA", m.Ns)
			}
			if m.Rcode != dns.RcodeServerFailure && !m.Authoritative {
				t.Errorf("zone answer without AA")
			}
			if m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0 && !hasSOA {
				t.Errorf("NODATA without SOA")
			}
			if m.IsEdns0() == nil {
				t.Errorf("EDNS0 not echoed")
			}
		})
	}
}

func replaceSerial(s string, serial uint32) string {
	return stringsReplace(s, " "+itoaU(serial)+" ", " SERIAL ")
}
