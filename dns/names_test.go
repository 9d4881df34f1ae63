package dns

import (
	"net/netip"
	"testing"
)

func TestSplitZone(t *testing.T) {
	tests := []struct {
		name   string
		in     bool
		labels []string
		deep   bool
	}{
		{name: "cluster.local.", in: true},
		{name: "svc.cluster.local.", in: true, labels: []string{"svc"}},
		{name: "web.shop.svc.cluster.local.", in: true, labels: []string{"svc", "shop", "web"}},
		{name: "_http._tcp.web.shop.svc.cluster.local.", in: true, labels: []string{"svc", "shop", "web", "_tcp", "_http"}},
		{name: "a._http._tcp.web.shop.svc.cluster.local.", in: true, deep: true, labels: []string{"svc", "shop", "web", "_tcp", "_http"}},
		{name: "xcluster.local."},
		{name: "local."},
		{name: "example.com."},
	}
	for _, tc := range tests {
		zn, in := splitZone(tc.name, "cluster.local.")
		if in != tc.in || zn.deep != tc.deep || zn.n != len(tc.labels) {
			t.Errorf("%s: in %v deep %v n %d", tc.name, in, zn.deep, zn.n)
			continue
		}
		for i, l := range tc.labels {
			if zn.labels[i] != l {
				t.Errorf("%s: label %d = %q, want %q", tc.name, i, zn.labels[i], l)
			}
		}
	}
}

func TestParseReverse(t *testing.T) {
	for _, s := range []string{"10.96.0.1", "0.0.0.0", "255.255.255.255", "fd00::10", "2001:db8::1:2:3:4", "::1"} {
		a := netip.MustParseAddr(s)
		got, ok := parseReverse(reverseName(a))
		if !ok || got != a {
			t.Errorf("%s: round trip gave %v %v via %s", s, got, ok, reverseName(a))
		}
	}
	for _, bad := range []string{
		"in-addr.arpa.", "1.in-addr.arpa.", "0.96.10.in-addr.arpa.", "1.1.0.96.10.in-addr.arpa.",
		"256.0.96.10.in-addr.arpa.", "01.0.96.10.in-addr.arpa.", "a.0.96.10.in-addr.arpa.", "..96.10.in-addr.arpa.",
		"0.ip6.arpa.", "g" + reverseName(netip.MustParseAddr("::1"))[1:],
	} {
		if a, ok := parseReverse(bad); ok {
			t.Errorf("%q parsed as %v", bad, a)
		}
	}
}

func TestDashedIP(t *testing.T) {
	for _, s := range []string{"10.1.0.6", "fd00:1::6", "2001:db8::1"} {
		a := netip.MustParseAddr(s)
		got, ok := parseDashedIP(dashedIP(a))
		if !ok || got != a {
			t.Errorf("%s: %s parsed as %v %v", s, dashedIP(a), got, ok)
		}
	}
	for _, bad := range []string{"db-0", "10-1-0", "10-1-0-6-7", "", "-"} {
		if a, ok := parseDashedIP(bad); ok {
			t.Errorf("%q parsed as %v", bad, a)
		}
	}
}
