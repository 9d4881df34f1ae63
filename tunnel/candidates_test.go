package tunnel

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// ifNet is the real network (stdnet) with made-up interfaces; it records listen configs.
type ifNet struct {
	transport.Net
	ifs []*transport.Interface

	mu       sync.Mutex
	controls int // CreateListenConfig calls with a Control func
}

func newIfNet(t *testing.T, ifs ...*transport.Interface) *ifNet {
	t.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	return &ifNet{Net: n, ifs: ifs}
}

func (n *ifNet) Interfaces() ([]*transport.Interface, error) { return n.ifs, nil }

func (n *ifNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	n.mu.Lock()
	if lc.Control != nil {
		n.controls++
	}
	n.mu.Unlock()
	return n.Net.CreateListenConfig(lc)
}

func fakeIface(idx int, name string, flags net.Flags, cidrs ...string) *transport.Interface {
	ifc := transport.NewInterface(net.Interface{Index: idx, Name: name, MTU: 1500, Flags: flags})
	for _, c := range cidrs {
		ip, ipn, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		ipn.IP = ip
		ifc.AddAddress(ipn)
	}
	return ifc
}

// nodeInterfaces look like a mesh node: loopback, the node-local DNS address on a dummy
// interface, a pod bridge, and the real NIC.
func nodeInterfaces() []*transport.Interface {
	up := net.FlagUp | net.FlagRunning
	return []*transport.Interface{
		fakeIface(1, "lo", up|net.FlagLoopback, "127.0.0.1/8"),
		fakeIface(2, "nodelocaldns", up|net.FlagBroadcast, "169.254.96.16/32"),
		fakeIface(3, "eth0", up|net.FlagBroadcast|net.FlagMulticast, "10.99.0.5/24"),
		fakeIface(4, "cni0", up|net.FlagBroadcast, "10.244.1.1/24"),
	}
}

func TestCandidatePolicy(t *testing.T) {
	excl := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}
	for _, tc := range []struct {
		ip              string
		includeLoopback bool
		want            bool
	}{
		{"10.99.0.5", false, true},
		{"27.0.0.1", false, true},
		{"127.0.0.1", false, false},
		{"127.0.0.1", true, true},
		{"::1", false, false},
		{"169.254.96.16", false, false},
		{"169.254.96.16", true, false},
		{"fe80::1", true, false},
		{"::ffff:169.254.1.1", false, false},
		{"10.244.3.4", false, false},
		{"0.0.0.0", true, false},
		{"224.0.0.1", true, false},
		{"2001:db8::1", false, true},
	} {
		p := candidatePolicy{includeLoopback: tc.includeLoopback, exclude: excl}
		if got := p.allow(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("allow(%s, loopback %v) = %v, want %v", tc.ip, tc.includeLoopback, got, tc.want)
		}
	}
}

// TestHostCandidatesFiltered: an agent on a wildcard socket gathers host candidates only
// from addresses a peer could use: no loopback (IncludeLoopback false), no link-local (the
// node-local DNS address), nothing in ExcludeCandidateCIDRs. Before, pion's loopback check
// did not apply to the universal mux and every interface address was offered.
func TestHostCandidatesFiltered(t *testing.T) {
	ca := newCA(t)
	o := testAgentOptions(t, ca, "node-a")
	o.Net = newIfNet(t, nodeInterfaces()...)
	o.ListenAddr, o.IncludeLoopback = "0.0.0.0:0", false
	o.ExcludeCandidateCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}
	a := startAgent(t, o)

	mux := candidateMux{UniversalUDPMuxDefault: a.mux, policy: a.candidatePolicy(), srflx: true}
	if got := mux.GetListenAddresses(); len(got) != 1 || got[0].(*net.UDPAddr).IP.String() != "10.99.0.5" {
		t.Errorf("srflx listen addresses = %v, want one, 10.99.0.5", got)
	}

	ag, err := a.newICEAgent()
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	done := make(chan struct{})
	if err := ag.OnCandidate(func(c ice.Candidate) {
		if c == nil {
			close(done)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := ag.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("gathering did not complete")
	}
	cands, err := ag.GetLocalCandidates()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cands {
		got = append(got, c.Type().String()+" "+c.Address())
	}
	sort.Strings(got)
	if want := []string{"host 10.99.0.5"}; !slices.Equal(got, want) {
		t.Errorf("local candidates = %v, want %v", got, want)
	}
}

// TestCandidateSieve: a session signals each transport address once (a srflx equal to a
// host candidate, or one mapping from several STUN servers, is redundant) and never one the
// policy refuses.
func TestCandidateSieve(t *testing.T) {
	host := func(ip string) ice.Candidate {
		c, err := ice.NewCandidateHost(&ice.CandidateHostConfig{Network: "udp", Address: ip, Port: 7000, Component: 1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srflx := func(ip, rel string) ice.Candidate {
		c, err := ice.NewCandidateServerReflexive(&ice.CandidateServerReflexiveConfig{
			Network: "udp", Address: ip, Port: 7000, Component: 1, RelAddr: rel, RelPort: 7000,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s := newCandidateSieve(candidatePolicy{})
	for _, tc := range []struct {
		c    ice.Candidate
		want bool
	}{
		{host("10.99.0.5"), true},
		{host("127.0.0.1"), false},
		{host("169.254.96.16"), false},
		{srflx("10.99.0.5", "10.99.0.5"), false}, // no NAT: same as the host candidate
		{srflx("27.0.0.1", "10.99.0.5"), true},
		{srflx("27.0.0.1", "127.0.0.1"), false},     // same mapping, other related address
		{srflx("27.0.0.1", "169.254.96.16"), false}, // idem
	} {
		if got := s.pass(tc.c); got != tc.want {
			t.Errorf("pass(%s) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

// checkDropper drops the next n outgoing STUN binding requests of an agent socket: the
// controlling side's first check is lost, as it is behind a port-restricted NAT (the peer's
// NAT drops it until the peer's own check has opened a mapping).
type checkDropper struct {
	net.PacketConn
	n atomic.Int32
}

func (c *checkDropper) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) >= 2 && b[0] == 0 && b[1] == 1 && c.n.Add(-1) >= 0 { // STUN Binding request
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestICETakesOverQuickly: two ICE agents as the tunnel makes them, on loopback, candidates
// trickled directly; the controlling side's first check is lost. pion retries a pair (and
// nominates one that succeeded) only on its check tick, so the time to connect is about one
// check interval: it was ≥ 200 ms with pion's default.
func TestICETakesOverQuickly(t *testing.T) {
	ca := newCA(t)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = udp.Close() })
	drop := &checkDropper{PacketConn: udp}
	oa := testAgentOptions(t, ca, "node-a")
	oa.PacketConn = drop
	a := startAgent(t, oa)
	b := startAgent(t, testAgentOptions(t, ca, "node-b"))
	const rounds = 5
	var took []time.Duration
	for range rounds {
		drop.n.Store(1)
		took = append(took, iceOnce(t, a, b))
	}
	slices.Sort(took)
	t.Logf("ICE connect times: %v", took)
	// The median; generous against a loaded machine, well below one 200 ms tick.
	if med := took[rounds/2]; med >= 150*time.Millisecond {
		t.Errorf("median ICE connect %v, want < 150ms (check interval %v)", med, iceCheckInterval)
	}
}

func iceOnce(t *testing.T, a, b *Agent) time.Duration {
	t.Helper()
	ca, err := a.newICEAgent()
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := b.newICEAgent()
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	trickle := func(from, to *ice.Agent) {
		if err := from.OnCandidate(func(c ice.Candidate) {
			if c != nil {
				_ = to.AddRemoteCandidate(c)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	trickle(ca, cb)
	trickle(cb, ca)
	ua, pa, _ := ca.GetLocalUserCredentials()
	ub, pb, _ := cb.GetLocalUserCredentials()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	accepted := make(chan error, 1)
	go func() {
		_, err := cb.Accept(ctx, ua, pa)
		accepted <- err
	}()
	start := time.Now()
	if err := ca.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	if err := cb.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Dial(ctx, ub, pb); err != nil {
		t.Fatalf("ICE dial: %v", err)
	}
	took := time.Since(start)
	if err := <-accepted; err != nil {
		t.Fatalf("ICE accept: %v", err)
	}
	return took
}
