package proxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// newTestBalancer builds a balancer for svc's first port as node n1 of site s1, where nodes
// n1, n2 are in s1 and the others in s2.
func newTestBalancer(svc *view.Service, clk *fakeClock) *balancer {
	loc := locality{node: "n1", site: "s1", siteOf: func(n string) string {
		if n == "n1" || n == "n2" {
			return "s1"
		}
		return "s2"
	}}
	set := newEndpointSet(svc, svc.Ports[0], loc, 10800*time.Second)
	return newBalancer(set, newOutliers(3, 10*time.Second, 5*time.Minute), clk.Now)
}

func counts(lb *balancer, n int, client func(i int) netip.Addr) map[string]int {
	got := map[string]int{}
	for i := range n {
		c := client(i)
		b := lb.pick(c, nil)
		if b == nil {
			got["<nil>"]++
			continue
		}
		lb.connected(c, b, true)
		got[b.ep.IP.String()]++
	}
	return got
}

func oneClient(int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }

func manyClients(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
}

func threeEndpoints(policy view.LBPolicy) *view.Service {
	svc := service("web", view.TCP, 80, ep("10.0.0.1", 8080, "n1"), ep("10.0.0.2", 8080, "n1"), ep("10.0.0.3", 8080, "n1"))
	svc.Policy = policy
	return svc
}

func TestRoundRobinEven(t *testing.T) {
	lb := newTestBalancer(threeEndpoints(""), newFakeClock())
	got := counts(lb, 300, oneClient)
	for ip, n := range got {
		if n != 100 {
			t.Errorf("%s got %d of 300, want 100 (all: %v)", ip, n, got)
		}
	}
}

func TestRandomRoughlyEven(t *testing.T) {
	lb := newTestBalancer(threeEndpoints(view.Random), newFakeClock())
	got := counts(lb, 3000, oneClient)
	for ip, n := range got {
		if n < 800 || n > 1200 {
			t.Errorf("%s got %d of 3000, want about 1000 (all: %v)", ip, n, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %v, want all three endpoints", got)
	}
}

func TestConsistentHash(t *testing.T) {
	lb := newTestBalancer(threeEndpoints(view.ConsistentHash), newFakeClock())
	first := map[netip.Addr]netip.AddrPort{}
	spread := map[netip.AddrPort]int{}
	for i := range 600 {
		c := manyClients(i)
		b := lb.pick(c, nil)
		first[c] = b.addr
		spread[b.addr]++
	}
	for range 3 {
		for c, want := range first {
			if got := lb.pick(c, nil).addr; got != want {
				t.Fatalf("client %s moved from %s to %s", c, want, got)
			}
		}
	}
	for a, n := range spread {
		if n < 100 {
			t.Errorf("%s got only %d of 600 clients: %v", a, n, spread)
		}
	}
	// Removing one endpoint moves only its clients.
	svc := threeEndpoints(view.ConsistentHash)
	svc.Endpoints = svc.Endpoints[:2]
	lb.update(newTestBalancer(svc, newFakeClock()).set.Load())
	gone := netip.MustParseAddrPort("10.0.0.3:8080")
	for c, was := range first {
		if got := lb.pick(c, nil).addr; was != gone && got != was {
			t.Errorf("client %s moved from %s to %s though its endpoint stayed", c, was, got)
		}
	}
}

func TestSessionAffinitySticksAndExpires(t *testing.T) {
	clk := newFakeClock()
	svc := threeEndpoints(view.RoundRobin)
	svc.SessionAffinity = true
	svc.AffinityTimeout = time.Minute
	lb := newTestBalancer(svc, clk)
	a := netip.MustParseAddr("192.0.2.1")
	first := lb.pick(a, nil)
	lb.connected(a, first, true)
	for i := range 5 {
		clk.Advance(50 * time.Second) // within the timeout since the last use
		b := lb.pick(a, nil)
		if b != first {
			t.Fatalf("pick %d: got %s, want sticky %s", i, b.addr, first.addr)
		}
		lb.connected(a, b, true)
	}
	// Another client still gets round robin.
	if b := lb.pick(netip.MustParseAddr("192.0.2.2"), nil); b == first {
		t.Errorf("other client got the sticky endpoint %s, want the next in turn", b.addr)
	}
	clk.Advance(time.Minute)
	if _, ok := lb.affinity.get(a, clk.Now(), svc.AffinityTimeout); ok {
		t.Fatal("affinity did not expire")
	}
	if b := lb.pick(a, nil); b == first {
		t.Errorf("after expiry got %s again, want the next in turn", b.addr)
	}
}

func TestTierPreference(t *testing.T) {
	node := ep("10.0.0.1", 80, "n1")   // same node
	site := ep("10.0.0.2", 80, "n2")   // same site
	remote := ep("10.0.0.3", 80, "n3") // other site
	for _, tc := range []struct {
		name string
		eps  []view.Endpoint
		want string
	}{
		{"node beats site and remote", []view.Endpoint{remote, site, node}, "10.0.0.1"},
		{"site beats remote", []view.Endpoint{remote, site}, "10.0.0.2"},
		{"remote when alone", []view.Endpoint{remote}, "10.0.0.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := newTestBalancer(service("s", view.TCP, 80, tc.eps...), newFakeClock())
			got := counts(lb, 20, manyClients)
			if got[tc.want] != 20 {
				t.Errorf("got %v, want all on %s", got, tc.want)
			}
		})
	}
}

func TestReadinessFallback(t *testing.T) {
	ready := ep("10.0.0.1", 80, "n1")
	terminating := ep("10.0.0.2", 80, "n1")
	terminating.Ready, terminating.Serving, terminating.Terminating = false, true, true
	notReady := ep("10.0.0.3", 80, "n1")
	notReady.Ready, notReady.Serving = false, false
	lb := newTestBalancer(service("s", view.TCP, 80, ready, terminating, notReady), newFakeClock())
	if got := counts(lb, 10, oneClient); got["10.0.0.1"] != 10 {
		t.Errorf("with a ready endpoint got %v, want only it", got)
	}
	lb = newTestBalancer(service("s", view.TCP, 80, terminating, notReady), newFakeClock())
	if got := counts(lb, 10, oneClient); got["10.0.0.2"] != 10 {
		t.Errorf("with none ready got %v, want the serving terminating one", got)
	}
	svc := service("s", view.TCP, 80, notReady)
	if lb = newTestBalancer(svc, newFakeClock()); lb.pick(netip.Addr{}, nil) != nil {
		t.Error("a not-ready, not-serving endpoint was picked")
	}
	svc.PublishNotReady = true
	if lb = newTestBalancer(svc, newFakeClock()); lb.pick(netip.Addr{}, nil) == nil {
		t.Error("publishNotReadyAddresses endpoint not picked")
	}
}

func TestEjection(t *testing.T) {
	clk := newFakeClock()
	svc := service("s", view.TCP, 80, ep("10.0.0.1", 80, "n1"), ep("10.0.0.2", 80, "n2"))
	lb := newTestBalancer(svc, clk)
	local := lb.pick(netip.Addr{}, nil)
	if local.ep.NodeName != "n1" {
		t.Fatalf("picked %s, want the same-node endpoint", local.addr)
	}
	for i := range 3 {
		_, ejected := lb.failed(local)
		if ejected != (i == 2) {
			t.Fatalf("failure %d: ejected=%v", i+1, ejected)
		}
	}
	if b := lb.pick(netip.Addr{}, nil); b == local {
		t.Fatal("ejected endpoint picked while another is healthy")
	}
	clk.Advance(10 * time.Second)
	if b := lb.pick(netip.Addr{}, nil); b != local {
		t.Fatalf("after the ejection got %s, want %s back", b.addr, local.addr)
	}
	// Failing again right away doubles the ejection.
	for range 3 {
		lb.failed(local)
	}
	clk.Advance(19 * time.Second)
	if b := lb.pick(netip.Addr{}, nil); b == local {
		t.Fatal("second ejection shorter than 20 s")
	}
	// Every endpoint ejected: they are still used.
	other := lb.pick(netip.Addr{}, nil)
	for range 3 {
		lb.failed(other)
	}
	if b := lb.pick(netip.Addr{}, nil); b == nil {
		t.Fatal("no pick with every endpoint ejected")
	}
	// Ejection state survives a Sync that keeps the endpoint, and is dropped with it.
	lb.update(newTestBalancer(svc, clk).set.Load())
	if !lb.out.ejected(local.addr, clk.Now()) {
		t.Error("Sync forgot the ejection of a kept endpoint")
	}
	lb.update(newTestBalancer(service("s", view.TCP, 80, svc.Endpoints[1]), clk).set.Load())
	if lb.out.ejected(local.addr, clk.Now()) {
		t.Error("Sync kept the state of a removed endpoint")
	}
}

func TestPickNeverRepeatsTried(t *testing.T) {
	lb := newTestBalancer(threeEndpoints(""), newFakeClock())
	var tried []netip.AddrPort
	for i := range 3 {
		b := lb.pick(netip.Addr{}, tried)
		if b == nil {
			t.Fatalf("attempt %d: no pick", i)
		}
		tried = append(tried, b.addr)
	}
	if b := lb.pick(netip.Addr{}, tried); b != nil {
		t.Errorf("picked %s again after all were tried", b.addr)
	}
	lone := newTestBalancer(service("s", view.TCP, 80, ep("10.0.0.1", 80, "n1")), newFakeClock())
	if b := lone.pick(netip.Addr{}, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80")}); b == nil {
		t.Error("a lone endpoint is not retried")
	}
}

func TestEndpointSetSkipsPortless(t *testing.T) {
	e := ep("10.0.0.1", 80, "n1")
	e.Ports = map[string]uint16{"other": 81}
	set := newEndpointSet(service("s", view.TCP, 80, e), view.ServicePort{Protocol: view.TCP, Port: 80}, locality{}, time.Hour)
	if !set.empty() {
		t.Error(fmt.Sprint("endpoint without the port used: ", set.tiers))
	}
}
