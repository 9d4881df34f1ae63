package tunnel

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func loopbackUDP(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLANDiscovery: two agents without any relay find each other through signed
// announcements and connect host to host; forged, foreign and replayed announcements are
// dropped and counted.
func TestLANDiscovery(t *testing.T) {
	ca := newCA(t)
	la, lb := loopbackUDP(t), loopbackUDP(t)
	targets := []net.Addr{la.LocalAddr(), lb.LocalAddr()}
	oa := testAgentOptions(t, ca, "node-a")
	oa.LAN = &LANOptions{Conn: la, Targets: targets, Interval: 100 * time.Millisecond}
	ob := testAgentOptions(t, ca, "node-b")
	ob.LAN = &LANOptions{Conn: lb, Targets: targets, Interval: 100 * time.Millisecond}
	a, b := startAgent(t, oa), startAgent(t, ob)
	serveEcho(a)
	serveEcho(b)

	eventually(t, 5*time.Second, func() bool { return peerStatus(b, "node-a").Path == PathDirect }, "LAN connection")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s := echoOnce(t, ctx, a, "node-b", "lan", "no relay needed"); s.Path() != PathDirect {
		t.Fatalf("path = %s", s.Path())
	}
	// The node with the larger name dials too (it uses the connection the other side made).
	if s := echoOnce(t, ctx, b, "node-a", "lan", "back"); s.Path() != PathDirect {
		t.Fatalf("path = %s", s.Path())
	}
	if st := peerStatus(a, "node-b"); st.LocalCandidate != "host" || st.RemoteAddr != b.LocalAddr().String() {
		t.Fatalf("status %+v", st)
	}
	if testutil.ToFloat64(a.metrics.lan.WithLabelValues("self")) == 0 {
		t.Error("own announcements not recognised")
	}

	// Attacks, sent to b's LAN socket.
	evil := loopbackUDP(t)
	defer evil.Close()
	udp := a.LocalAddr().(*net.UDPAddr)
	valid, err := encodeAnnouncement(oa.Cert.Certificate[0], oa.Cert.PrivateKey, lanBody{Node: "node-a", Port: udp.Port, TS: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	foreign := nodeCert(t, newCA(t), "node-x")
	forged, _ := encodeAnnouncement(foreign.Certificate[0], foreign.PrivateKey, lanBody{Node: "node-x", Port: 1, TS: time.Now().UnixNano()})
	// node-c's key signing an announcement that carries node-a's certificate.
	other := nodeCert(t, ca, "node-c")
	stolen, _ := encodeAnnouncement(oa.Cert.Certificate[0], other.PrivateKey, lanBody{Node: "node-a", Port: 1, TS: time.Now().Add(time.Hour).UnixNano()})
	stale, _ := encodeAnnouncement(oa.Cert.Certificate[0], oa.Cert.PrivateKey, lanBody{Node: "node-a", Port: 1, TS: time.Now().Add(-time.Hour).UnixNano()})
	tampered := append([]byte(nil), valid...)
	tampered[len(lanMagic)+10] ^= 1

	invalid0 := testutil.ToFloat64(b.metrics.lan.WithLabelValues("invalid"))
	replay0 := testutil.ToFloat64(b.metrics.lan.WithLabelValues("replay"))
	for _, pkt := range [][]byte{forged, stolen, tampered, []byte("garbage"), []byte(lanMagic + "\xff\xff")} {
		_, _ = evil.WriteTo(pkt, lb.LocalAddr())
	}
	// A valid announcement is accepted once (if not older than one b already saw) and a
	// replay of it is dropped; so is a stale one.
	_, _ = evil.WriteTo(valid, lb.LocalAddr())
	time.Sleep(50 * time.Millisecond)
	_, _ = evil.WriteTo(valid, lb.LocalAddr())
	_, _ = evil.WriteTo(stale, lb.LocalAddr())
	eventually(t, 2*time.Second, func() bool {
		return testutil.ToFloat64(b.metrics.lan.WithLabelValues("invalid")) >= invalid0+5 &&
			testutil.ToFloat64(b.metrics.lan.WithLabelValues("replay")) >= replay0+2
	}, "attacks counted")
	if st := peerStatus(b, "node-x"); st.Path != PathNone {
		t.Errorf("foreign node became a peer: %+v", st)
	}
}

func TestDecodeAnnouncement(t *testing.T) {
	ca := newCA(t)
	cert := nodeCert(t, ca, "node-a")
	pkt, err := encodeAnnouncement(cert.Certificate[0], cert.PrivateKey, lanBody{Node: "node-a", Port: 7000, TS: 42})
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeAnnouncement(pkt, ca.Pool())
	if err != nil || b.Node != "node-a" || b.Port != 7000 || b.TS != 42 {
		t.Fatalf("decode = %+v, %v", b, err)
	}
	for i := range pkt {
		bad := append([]byte(nil), pkt...)
		bad[i] ^= 0x20
		if _, err := decodeAnnouncement(bad, ca.Pool()); err == nil {
			// Flipping a bit of the signature's DER or the JSON's whitespace might still
			// parse; it must never verify.
			t.Fatalf("bit flip at %d accepted", i)
		} else if !errors.Is(err, ErrBadAnnouncement) {
			t.Fatalf("bit flip at %d: %v", i, err)
		}
	}
	if _, err := decodeAnnouncement(pkt[:len(pkt)-1], ca.Pool()); !errors.Is(err, ErrBadAnnouncement) {
		t.Fatalf("truncated: %v", err)
	}
}
