package tunnel

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// stunFilter wraps an agent socket and, while blocked, drops every non-QUIC packet (ICE's
// STUN) in both directions: hole punching fails, QUIC is untouched.
type stunFilter struct {
	net.PacketConn
	blocked   atomic.Bool
	blackhole atomic.Bool // drop everything
}

func isSTUNish(b []byte) bool { return len(b) > 0 && b[0]&0xc0 == 0 }

func (c *stunFilter) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err == nil && (c.blackhole.Load() || c.blocked.Load() && isSTUNish(b[:n])) {
			continue
		}
		return n, addr, err
	}
}

func (c *stunFilter) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.blackhole.Load() || c.blocked.Load() && isSTUNish(b) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func filteredSocket(t *testing.T) *stunFilter {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = udp.Close() })
	f := &stunFilter{PacketConn: udp}
	f.blocked.Store(true)
	return f
}

// TestRelayOnly: with direct paths disabled, streams work over TURN, end-to-end QUIC.
func TestRelayOnly(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	oa := testAgentOptions(t, ca, "node-a", r)
	oa.DisableDirect = true
	ob := testAgentOptions(t, ca, "node-b", r)
	ob.DisableDirect = true
	a, b := startAgent(t, oa), startAgent(t, ob)
	serveEcho(a)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	s := echoOnce(t, ctx, a, "node-b", "via", "turn")
	t.Logf("first stream over the relay: %v", time.Since(start))
	if s.Path() != PathRelay {
		t.Fatalf("path = %s, want relay", s.Path())
	}
	s = echoOnce(t, ctx, b, "node-a", "back", "turn")
	if s.Path() != PathRelay {
		t.Fatalf("path = %s, want relay", s.Path())
	}
	st := peerStatus(a, "node-b")
	if st.Path != PathRelay || st.Relay != "relay-1" || st.LocalCandidate != "relay" {
		t.Fatalf("status %+v", st)
	}
	if r.srv.Ready() != true {
		t.Fatal("relay not ready")
	}
}

// TestUpgradeToDirect: ICE fails at first (STUN dropped), streams flow over the relay; when
// STUN gets through, the background retry finds the direct path and new streams take it.
// Then the direct connection breaks: traffic falls back to the relay and punching resumes.
func TestUpgradeToDirect(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	fa, fb := filteredSocket(t), filteredSocket(t)
	oa := testAgentOptions(t, ca, "node-a", r)
	oa.PacketConn, oa.PunchTimeout = fa, 500*time.Millisecond
	ob := testAgentOptions(t, ca, "node-b", r)
	ob.PacketConn, ob.PunchTimeout = fb, 500*time.Millisecond
	a, b := startAgent(t, oa), startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if s := echoOnce(t, ctx, a, "node-b", "1", "relayed"); s.Path() != PathRelay {
		t.Fatalf("path = %s, want relay", s.Path())
	}
	time.Sleep(700 * time.Millisecond) // at least one failed attempt
	if st := peerStatus(a, "node-b"); st.Path != PathRelay {
		t.Fatalf("status %+v, want relay", st)
	}
	fa.blocked.Store(false)
	fb.blocked.Store(false)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "upgrade to direct")
	if s := echoOnce(t, ctx, a, "node-b", "2", "direct"); s.Path() != PathDirect {
		t.Fatalf("path = %s, want direct", s.Path())
	}

	// Break the direct path: new streams fall back to the relay at once.
	fa.blocked.Store(true)
	fb.blocked.Store(true)
	p := a.existingPeer("node-b")
	pc, _ := p.best()
	_ = pc.conn.CloseWithError(5, "test: path broken")
	eventually(t, 5*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathRelay }, "fallback to relay")
	if s := echoOnce(t, ctx, a, "node-b", "3", "relayed again"); s.Path() != PathRelay {
		t.Fatalf("path = %s, want relay", s.Path())
	}
	fa.blocked.Store(false)
	fb.blocked.Store(false)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct again")
}

// TestRelayFailover: two relays; the one carrying the relayed connection dies; the agents
// reconnect through the other.
func TestRelayFailover(t *testing.T) {
	ca := newCA(t)
	r1 := startRelay(t, ca, "relay-1", nil)
	r2 := startRelay(t, ca, "relay-2", nil)
	oa := testAgentOptions(t, ca, "node-a", r1, r2)
	oa.DisableDirect = true
	ob := testAgentOptions(t, ca, "node-b", r1, r2)
	ob.DisableDirect = true
	a, b := startAgent(t, oa), startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "1", "x")
	if st := peerStatus(a, "node-b"); st.Relay != "relay-1" {
		t.Fatalf("status %+v, want relay-1", st)
	}
	r1.stop()
	eventually(t, 10*time.Second, func() bool { return peerStatus(a, "node-b").Relay == "relay-2" }, "failover to relay-2")
	echoOnce(t, ctx, a, "node-b", "2", "y")
	// A new peer can still be reached through the surviving relay.
	c := startAgent(t, testAgentOptions(t, ca, "node-c", r1, r2))
	serveEcho(c)
	echoOnce(t, ctx, a, "node-c", "3", "z")
}

// TestDeadDirectPath: the direct path goes silent (a NAT mapping lost, a link down); the agent
// notices within DeadPathTimeout, new streams take the relay, and punching resumes.
func TestDeadDirectPath(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	fa, fb := filteredSocket(t), filteredSocket(t)
	fa.blocked.Store(false)
	fb.blocked.Store(false)
	mod := func(o *Options, f *stunFilter) {
		o.PacketConn, o.PunchTimeout = f, 500*time.Millisecond
		o.KeepAlivePeriod, o.DeadPathTimeout = 100*time.Millisecond, 500*time.Millisecond
	}
	oa, ob := testAgentOptions(t, ca, "node-a", r), testAgentOptions(t, ca, "node-b", r)
	mod(&oa, fa)
	mod(&ob, fb)
	a, b := startAgent(t, oa), startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "1", "x")
	eventually(t, 10*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct")
	fa.blackhole.Store(true)
	fb.blackhole.Store(true)
	start := time.Now()
	eventually(t, 5*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathRelay }, "fallback")
	t.Logf("dead direct path detected after %v", time.Since(start))
	if s := echoOnce(t, ctx, a, "node-b", "2", "y"); s.Path() != PathRelay {
		t.Fatalf("path = %s", s.Path())
	}
	fa.blackhole.Store(false)
	fb.blackhole.Store(false)
	eventually(t, 15*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct again")
}
