package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

func TestFastPathRules(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Options{})
	eps := []netip.AddrPort{netip.MustParseAddrPort("10.1.0.12:8080"), netip.MustParseAddrPort("10.1.0.13:8080"), netip.MustParseAddrPort("10.1.0.14:8080")}
	rs := []Redirect{
		{ClusterIP: netip.MustParseAddr("10.96.0.10"), Port: 80, Protocol: view.TCP, ProxyPort: 30001, Direct: eps},
		{ClusterIP: netip.MustParseAddr("10.96.0.11"), Port: 53, Protocol: view.UDP, ProxyPort: 30002},
	}
	if err := s.Sync(rs); err != nil {
		t.Fatal(err)
	}
	rules, err := f.List(Table, s.active)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rules, "\n")
	for _, want := range []string{
		"-m addrtype ! --src-type LOCAL -j MARK --set-xmark " + fastPathMark,
		"--probability 0.3333333333 -j DNAT --to-destination 10.1.0.12:8080",
		"--probability 0.5000000000 -j DNAT --to-destination 10.1.0.13:8080",
		"--dport 80 -j DNAT --to-destination 10.1.0.14:8080",
		"--dport 53 -j REDIRECT --to-ports 30002",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rules lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "--to-ports 30001") {
		t.Errorf("a fast-path service is also redirected to the proxy:\n%s", all)
	}
	post, _ := f.List(Table, "POSTROUTING")
	if !strings.Contains(strings.Join(post, "\n"), PostroutingChain) {
		t.Fatalf("POSTROUTING does not jump to %s: %v", PostroutingChain, post)
	}
	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	post, _ = f.List(Table, "POSTROUTING")
	if strings.Contains(strings.Join(post, "\n"), PostroutingChain) {
		t.Fatalf("cleanup left the POSTROUTING jump: %v", post)
	}
	if ok, _ := f.ChainExists(Table, PostroutingChain); ok {
		t.Fatal("cleanup left the postrouting chain")
	}
}
