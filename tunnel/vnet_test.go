package tunnel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"

	"github.com/outpostmesh/outpost/tunnel/relay"
)

var (
	fullCone  = &vnet.NATType{Mode: vnet.NATModeNormal, MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointIndependent}
	symmetric = &vnet.NATType{Mode: vnet.NATModeNormal, MappingBehavior: vnet.EndpointAddrPortDependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
)

// vnetWorld is a pion vnet internet: a WAN router with the relay (1.2.3.4) and one NATed LAN
// per site with one host each. Signalling (TCP) runs on real loopback: vnet has no TCP, and
// the signalling channel does not care where agents' UDP lives.
type vnetWorld struct {
	wan *vnet.Router
	log logging.LoggerFactory
}

// site adds a NATed LAN with public IP pub and one host at 10.x.0.2; it returns the host's Net.
func (w *vnetWorld) site(t *testing.T, i int, nat *vnet.NATType) *vnet.Net {
	lan, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR:          fmt.Sprintf("10.%d.0.0/24", i),
		StaticIPs:     []string{fmt.Sprintf("27.0.0.%d", i)},
		NATType:       nat,
		LoggerFactory: w.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	host, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{fmt.Sprintf("10.%d.0.2", i)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := lan.AddNet(host); err != nil {
		t.Fatal(err)
	}
	if err := w.wan.AddRouter(lan); err != nil {
		t.Fatal(err)
	}
	return host
}

func runVNet(t *testing.T, natA, natB *vnet.NATType) *Agent {
	ca := newCA(t)
	logf := relay.NewPionLoggerFactory(testAgentOptions(t, ca, "vnet").Logger)
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", LoggerFactory: logf})
	if err != nil {
		t.Fatal(err)
	}
	relayNet, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"1.2.3.4"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := wan.AddNet(relayNet); err != nil {
		t.Fatal(err)
	}
	w := &vnetWorld{wan: wan, log: logf}
	netA := w.site(t, 1, natA)
	netB := w.site(t, 2, natB)
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wan.Stop() })

	r := startRelay(t, ca, "relay-v", func(o *relay.Options) {
		o.Net = relayNet
		o.TURNAddr = "1.2.3.4:3478"
	})
	oa := testAgentOptions(t, ca, "node-a", r)
	oa.Net, oa.ListenAddr, oa.IncludeLoopback = netA, "10.1.0.2:7000", false
	ob := testAgentOptions(t, ca, "node-b", r)
	ob.Net, ob.ListenAddr, ob.IncludeLoopback = netB, "10.2.0.2:7000", false
	a := startAgent(t, oa)
	b := startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	echoOnce(t, ctx, a, "node-b", "1", "hello through vnet")
	t.Logf("first stream: %v over %s", time.Since(start), peerStatus(a, "node-b").Path)
	return a
}

// TestVNetFullCone: both sites behind full-cone NATs: ICE finds srflx↔srflx and QUIC goes
// direct, NAT to NAT.
func TestVNetFullCone(t *testing.T) {
	a := runVNet(t, fullCone, fullCone)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct path")
	st := peerStatus(a, "node-b")
	t.Logf("status %+v", st)
	if st.RemoteAddr != "27.0.0.2:7000" && st.RemoteCandidate != "srflx" && st.RemoteCandidate != "prflx" {
		t.Errorf("direct path not through the NAT: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s := echoOnce(t, ctx, a, "node-b", "2", "direct"); s.Path() != PathDirect {
		t.Fatalf("path = %s", s.Path())
	}
}

// TestVNetSymmetric: both sites behind symmetric NATs: punching cannot work, the relay
// carries the traffic, and the agent keeps it that way after attempts fail.
func TestVNetSymmetric(t *testing.T) {
	a := runVNet(t, symmetric, symmetric)
	time.Sleep(4 * time.Second) // one full punch attempt (PunchTimeout 3s in tests)
	st := peerStatus(a, "node-b")
	if st.Path != PathRelay {
		t.Fatalf("status %+v, want relay", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s := echoOnce(t, ctx, a, "node-b", "2", "still relayed"); s.Path() != PathRelay {
		t.Fatalf("path = %s", s.Path())
	}
}

// TestVNetFullConeSymmetric: one full-cone and one symmetric NAT: the symmetric side's checks
// reach the full-cone side's server-reflexive address from a new mapping, which ICE learns as
// a peer-reflexive candidate, so the direct path works.
func TestVNetFullConeSymmetric(t *testing.T) {
	a := runVNet(t, fullCone, symmetric)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct path")
	t.Logf("status %+v", peerStatus(a, "node-b"))
}

// TestVNetPortRestricted: both sites behind port-restricted cone NATs (endpoint-independent
// mapping, address-and-port-dependent filtering: Linux MASQUERADE, the lab's "easy" NAT).
// Both sides' checks open their own NAT for the other's srflx address: direct.
func TestVNetPortRestricted(t *testing.T) {
	portRestricted := &vnet.NATType{Mode: vnet.NATModeNormal, MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent}
	a := runVNet(t, portRestricted, portRestricted)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct path")
	t.Logf("status %+v", peerStatus(a, "node-b"))
}
