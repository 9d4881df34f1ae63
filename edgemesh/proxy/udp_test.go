package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// udpExchange sends req from c to the proxy port and returns the reply.
func udpExchange(t *testing.T, c *net.UDPConn, port uint16, req string) string {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte(req), netip.AddrPortFrom(loopback, port)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 2048)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("reply to %q: %v", req, err)
	}
	if from.Port() != port {
		t.Errorf("reply from %s, want the proxy port %d", from, port)
	}
	return string(buf[:n])
}

func udpClient(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func flowCount(p *Proxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, sp := range p.ports {
		if sp.udp != nil {
			sp.udp.mu.Lock()
			n += len(sp.udp.flows)
			sp.udp.mu.Unlock()
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUDPRoundTrip(t *testing.T) {
	b1 := newUDPBackend(t, "b1")
	b2 := newUDPBackend(t, "b2")
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", b1.port, "n1"), ep("127.0.0.1", b2.port, "n1")))
	c := udpClient(t)
	first := udpExchange(t, c, port, "q1")
	// Same client address: same flow, same backend.
	for range 5 {
		if got := udpExchange(t, c, port, "q1"); got != first {
			t.Fatalf("same flow answered %q then %q", first, got)
		}
	}
	// A second client is a second flow: round robin sends it to the other backend.
	if got := udpExchange(t, udpClient(t), port, "q1"); got == first {
		t.Errorf("second client got %q too, want the other backend", got)
	}
	if n := flowCount(p); n != 2 {
		t.Errorf("%d flows, want 2", n)
	}
	if v := testutil.ToFloat64(p.m.udpFlows.WithLabelValues("default/dns:53")); v != 2 {
		t.Errorf("udp_flows = %v", v)
	}
}

// A DNS-style exchange: one request from a fresh socket, one response, socket closed.
func TestUDPSingleRequestResponse(t *testing.T) {
	b := newUDPBackend(t, "dns")
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", b.port, "n1")))
	for i := range 20 {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("query"))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		c.Close()
		if err != nil || string(buf[:n]) != "dns:query" {
			t.Fatalf("exchange %d: %q, %v", i, buf[:n], err)
		}
	}
}

func TestUDPIdleTimeout(t *testing.T) {
	b := newUDPBackend(t, "b")
	p, _ := newTestProxy(t, Options{UDPIdleTimeout: 100 * time.Millisecond})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", b.port, "n1")))
	c := udpClient(t)
	udpExchange(t, c, port, "x")
	// Kept while active.
	for range 5 {
		time.Sleep(40 * time.Millisecond)
		udpExchange(t, c, port, "x")
	}
	if flowCount(p) != 1 {
		t.Fatal("active flow closed")
	}
	waitFor(t, "idle flow to close", func() bool { return flowCount(p) == 0 })
	if v := testutil.ToFloat64(p.m.udpFlows.WithLabelValues("default/dns:53")); v != 0 {
		t.Errorf("udp_flows = %v after idle", v)
	}
	// The client can start over.
	if got := udpExchange(t, c, port, "again"); got != "b:again" {
		t.Errorf("got %q", got)
	}
}

func TestUDPFlowLimitAndRemoval(t *testing.T) {
	b := newUDPBackend(t, "b")
	p, _ := newTestProxy(t, Options{MaxUDPFlows: 1})
	svc := service("dns", view.UDP, 53, ep("127.0.0.1", b.port, "n1"))
	port := syncOne(t, p, svc)
	c1, c2 := udpClient(t), udpClient(t)
	udpExchange(t, c1, port, "one")
	c2.WriteToUDPAddrPort([]byte("two"), netip.AddrPortFrom(loopback, port))
	c2.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := c2.ReadFromUDPAddrPort(make([]byte, 64)); err == nil {
		t.Error("a flow beyond MaxUDPFlows was answered")
	}
	if v := testutil.ToFloat64(p.m.connections.WithLabelValues("default/dns:53", "UDP", resultFlowLimit)); v != 1 {
		t.Errorf("flow_limit = %v", v)
	}
	// Removing the service closes its flows.
	if _, err := p.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if n := flowCount(p); n != 0 {
		t.Errorf("%d flows after removal", n)
	}
}

// UDP through a Dial that takes a while (a tunnel stream): datagrams sent meanwhile are
// queued, not lost.
func TestUDPQueuesWhileDialing(t *testing.T) {
	b := newUDPBackend(t, "b")
	slow := func(ctx context.Context, e view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error) {
		time.Sleep(50 * time.Millisecond)
		return dialDirect(ctx, e, port, proto)
	}
	p, _ := newTestProxy(t, Options{Dial: slow})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", b.port, "n1")))
	c := udpClient(t)
	to := netip.AddrPortFrom(loopback, port)
	for _, m := range []string{"a", "b", "c"} {
		c.WriteToUDPAddrPort([]byte(m), to)
	}
	got := map[string]bool{}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for range 3 {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got[string(buf[:n])] = true
	}
	if !got["b:a"] || !got["b:b"] || !got["b:c"] {
		t.Errorf("replies %v", got)
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	b := newUDPBackend(t, "b")
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", b.port, "n1")))
	udpExchange(t, udpClient(t), port, "x")
	p.Close()
	p.Close()
	if _, err := p.Sync(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
}

// A UDP endpoint where nothing listens answers with ICMP port unreachable: its flows count
// as connect failures and it gets ejected.
func TestUDPRefusedEndpointEjected(t *testing.T) {
	live := newUDPBackend(t, "live")
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	deadPort := uint16(dead.LocalAddr().(*net.UDPAddr).Port)
	dead.Close()
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("dns", view.UDP, 53, ep("127.0.0.1", deadPort, "n1"), ep("127.0.0.1", live.port, "n1")))
	ask := func() bool {
		c := udpClient(t)
		c.WriteToUDPAddrPort([]byte("q"), netip.AddrPortFrom(loopback, port))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, _, err := c.ReadFromUDPAddrPort(make([]byte, 64))
		c.Close()
		return err == nil
	}
	for range 8 {
		ask()
	}
	waitFor(t, "ejection", func() bool {
		return testutil.ToFloat64(p.m.ejections.WithLabelValues("default/dns:53")) == 1
	})
	for i := range 5 {
		if !ask() {
			t.Errorf("client %d unanswered with the dead endpoint ejected", i)
		}
	}
}
