package iptables

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

func redirect(ip string, port uint16, proto view.Protocol, proxyPort uint16) Redirect {
	return Redirect{ClusterIP: netip.MustParseAddr(ip), Port: port, Protocol: proto, ProxyPort: proxyPort}
}

var (
	web = redirect("10.96.0.10", 80, view.TCP, 40001)
	dns = redirect("10.96.0.53", 53, view.UDP, 40002)
)

// foreign adds rules that are not ours: a kube-proxy-like jump and a DNAT.
func foreign(t *testing.T, f *FakeRunner) {
	t.Helper()
	must(t, f.NewChain("nat", "KUBE-SERVICES"))
	must(t, f.Append("nat", "KUBE-SERVICES", "-d", "10.96.0.1/32", "-p", "tcp", "-j", "DNAT", "--to-destination", "192.0.2.1:6443"))
	must(t, f.Insert("nat", "PREROUTING", 1, "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"))
	must(t, f.Insert("nat", "OUTPUT", 1, "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"))
	must(t, f.Append("nat", "POSTROUTING", "-s", "10.244.0.0/16", "-j", "MASQUERADE"))
	must(t, f.Append("filter", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ours returns the lines of the dump that mention an OUTPOST chain.
func ours(dump []string) []string {
	var out []string
	for _, l := range dump {
		if strings.Contains(l, "OUTPOST") {
			out = append(out, l)
		}
	}
	return out
}

// redirectRules returns the REDIRECT rules, without their chain name.
func redirectRules(dump []string) []string {
	var out []string
	for _, l := range dump {
		if strings.Contains(l, "REDIRECT") || strings.Contains(l, "RETURN") {
			out = append(out, strings.SplitN(l, " ", 3)[2])
		}
	}
	return out
}

func TestSyncInstallsRedirects(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Default())
	must(t, s.Sync([]Redirect{web, dns}))
	got := redirectRules(f.Dump("nat"))
	want := []string{
		"-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40001",
		"-d 10.96.0.53/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports 40002",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, hook := range []string{"PREROUTING", "OUTPUT"} {
		lines, _ := f.List("nat", hook)
		if len(lines) != 2 || jumpTarget(lines[1]) != ServicesChain {
			t.Errorf("%s: %v, want one jump to %s", hook, lines, ServicesChain)
		}
	}
}

func TestSyncIdempotentAndCheap(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Default())
	must(t, s.Sync([]Redirect{web, dns}))
	first := f.Dump("nat")
	f.ResetCalls()
	must(t, s.Sync([]Redirect{web, dns}))
	if got := f.Dump("nat"); !slices.Equal(got, first) {
		t.Errorf("second Sync changed the rules:\n%s\nwas:\n%s", strings.Join(got, "\n"), strings.Join(first, "\n"))
	}
	for _, m := range []string{"Append", "Insert", "Delete", "ClearChain", "NewChain", "DeleteChain"} {
		if f.Calls[m] != 0 {
			t.Errorf("unchanged Sync called %s %d times (calls: %v)", m, f.Calls[m], f.Calls)
		}
	}
	// A new Syncer (agent restart) converges to the same rules, without duplicates.
	s2 := New(f, Default())
	must(t, s2.Sync([]Redirect{web, dns}))
	must(t, s2.Sync([]Redirect{web, dns}))
	if got := redirectRules(f.Dump("nat")); len(got) != 2 {
		t.Errorf("after restart: %v", got)
	}
	if n := len(ours(f.Dump("nat"))); n != len(ours(first)) {
		t.Errorf("after restart %d lines of ours, want %d:\n%s", n, len(ours(first)), strings.Join(f.Dump("nat"), "\n"))
	}
}

func TestSyncUpdateRemovesRules(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Default())
	must(t, s.Sync([]Redirect{web, dns}))
	moved := web
	moved.ProxyPort = 40005
	must(t, s.Sync([]Redirect{moved}))
	got := redirectRules(f.Dump("nat"))
	want := []string{"-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40005"}
	if !slices.Equal(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	// Exactly one generation chain is left.
	gens := 0
	for _, l := range f.Dump("nat") {
		if strings.HasPrefix(l, ":OUTPOST-SVC-") {
			gens++
		}
	}
	if gens != 1 {
		t.Errorf("%d generation chains:\n%s", gens, strings.Join(f.Dump("nat"), "\n"))
	}
	must(t, s.Sync(nil))
	if got := redirectRules(f.Dump("nat")); len(got) != 0 {
		t.Errorf("Sync(nil) left %v", got)
	}
}

func TestSyncRepairsFlushedChain(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Default())
	must(t, s.Sync([]Redirect{web}))
	// Someone flushes our chain and a hook (e.g. a firewall reload).
	must(t, f.ClearChain("nat", ServicesChain))
	must(t, f.ClearChain("nat", "OUTPUT"))
	must(t, s.Sync([]Redirect{web}))
	lines, _ := f.List("nat", ServicesChain)
	if len(lines) != 2 {
		t.Errorf("%s after repair: %v", ServicesChain, lines)
	}
	if ok, _ := f.Exists("nat", "OUTPUT", jumpRule()...); !ok {
		t.Error("OUTPUT jump not restored")
	}
	if got := redirectRules(f.Dump("nat")); len(got) != 1 {
		t.Errorf("rules %v", got)
	}
}

func TestCleanupLeavesForeignRules(t *testing.T) {
	f := NewFakeRunner()
	foreign(t, f)
	before := f.Dump("nat")
	beforeFilter := f.Dump("filter")
	s := New(f, Options{ExcludeCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.96.16/32")}})
	must(t, s.Sync([]Redirect{web, dns}))
	must(t, s.Sync([]Redirect{dns}))
	must(t, s.Cleanup())
	if got := f.Dump("nat"); !slices.Equal(got, before) {
		t.Errorf("after Cleanup:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	if got := f.Dump("filter"); !slices.Equal(got, beforeFilter) {
		t.Errorf("filter changed: %v", got)
	}
	// Cleanup of nothing is fine, also from a fresh Syncer.
	must(t, New(f, Default()).Cleanup())
}

func TestJumpOrder(t *testing.T) {
	for _, coexist := range []bool{false, true} {
		f := NewFakeRunner()
		foreign(t, f)
		s := New(f, Options{CoexistWithKubeProxy: coexist})
		must(t, s.Sync([]Redirect{web}))
		// kube-proxy restarts and re-prepends its jump; we sync again.
		must(t, f.Delete("nat", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"))
		must(t, f.Insert("nat", "PREROUTING", 1, "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"))
		must(t, s.Sync([]Redirect{web}))
		for _, hook := range []string{"PREROUTING", "OUTPUT"} {
			lines, _ := f.List("nat", hook)
			var targets []string
			for _, l := range lines[1:] {
				targets = append(targets, jumpTarget(l))
			}
			want := []string{ServicesChain, KubeServicesChain}
			if coexist {
				want = []string{KubeServicesChain, ServicesChain}
			}
			if hook == "PREROUTING" && !coexist {
				want = []string{KubeServicesChain, ServicesChain} // kube-proxy re-prepended after us
			}
			if !slices.Equal(targets, want) {
				t.Errorf("coexist=%v %s: jumps %v, want %v", coexist, hook, targets, want)
			}
		}
	}
}

func TestCoexistMovesOurJumpBehindKubeProxy(t *testing.T) {
	f := NewFakeRunner()
	// We started first, not coexisting, then kube-proxy appended its jump behind ours.
	must(t, New(f, Default()).Sync([]Redirect{web}))
	must(t, f.NewChain("nat", "KUBE-SERVICES"))
	must(t, f.Append("nat", "OUTPUT", "-j", "KUBE-SERVICES"))
	must(t, New(f, Options{CoexistWithKubeProxy: true}).Sync([]Redirect{web}))
	lines, _ := f.List("nat", "OUTPUT")
	if len(lines) != 3 || jumpTarget(lines[1]) != KubeServicesChain || jumpTarget(lines[2]) != ServicesChain {
		t.Errorf("OUTPUT: %v, want KUBE-SERVICES then ours", lines)
	}
}

func TestExcludeAndFamilies(t *testing.T) {
	f := NewFakeRunner()
	s := New(f, Options{ExcludeCIDRs: []netip.Prefix{
		netip.MustParsePrefix("169.254.96.16/32"), netip.MustParsePrefix("fd00::/8"),
	}})
	v6 := redirect("fd00::10", 80, view.TCP, 40003)
	bad := Redirect{Port: 80, Protocol: view.TCP, ProxyPort: 1}
	sctp := redirect("10.96.0.11", 80, "SCTP", 40004)
	err := s.Sync([]Redirect{web, v6, bad, sctp})
	if !errors.Is(err, ErrInvalidRedirect) {
		t.Errorf("Sync: %v, want ErrInvalidRedirect", err)
	}
	got := redirectRules(f.Dump("nat"))
	want := []string{
		"-d 169.254.96.16/32 -j RETURN",
		"-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40001",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules %v, want %v", got, want)
	}
	f6 := NewFakeRunner()
	must(t, New(f6, Options{IPv6: true}).Sync([]Redirect{web, v6}))
	if got := redirectRules(f6.Dump("nat")); len(got) != 1 || !strings.HasPrefix(got[0], "-d fd00::10/128 -p tcp") {
		t.Errorf("ip6 rules %v", got)
	}
}
