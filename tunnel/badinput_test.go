package tunnel

import (
	"context"
	"crypto/rand"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestGarbageOnAgentSocket: random datagrams, QUIC-looking and STUN-looking, some of them
// valid STUN with unknown usernames, hit an agent's socket before and while it connects;
// ICE, QUIC and streams are unaffected.
func TestGarbageOnAgentSocket(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	a := startAgent(t, testAgentOptions(t, ca, "node-a", r))
	b := startAgent(t, testAgentOptions(t, ca, "node-b", r))
	serveEcho(b)
	waitRelaysUp(t, a, b)

	junk, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1400)
		req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewUsername("nobody:nothing"), stun.Fingerprint)
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := 1 + i%len(buf)
			_, _ = rand.Read(buf[:n])
			switch i % 4 {
			case 0:
				buf[0] &^= 0xc0 // looks like STUN: goes to the ICE mux
			case 1:
				buf[0] |= 0xc0 // looks like a QUIC long header
			case 2:
				buf[0] = 0x40 | buf[0]&0x3f // QUIC short header, unknown connection ID
			case 3:
				n = copy(buf, req.Raw) // well-formed STUN for an unknown ufrag
			}
			for _, to := range []net.Addr{a.LocalAddr(), b.LocalAddr()} {
				_, _ = junk.WriteTo(buf[:n], to)
			}
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echoOnce(t, ctx, a, "node-b", "1", "through the noise")
	eventually(t, 20*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct path under noise")
	if s := echoOnce(t, ctx, a, "node-b", "2", "direct under noise"); s.Path() != PathDirect {
		t.Fatalf("path = %s", s.Path())
	}
}

// TestBadStreamHeader: a peer that opens a stream with a header above the limit gets the
// stream reset; the connection and other streams carry on.
func TestBadStreamHeader(t *testing.T) {
	ca := newCA(t)
	r := startRelay(t, ca, "relay-1", nil)
	oa := testAgentOptions(t, ca, "node-a", r)
	oa.MaxHeaderSize = 60000 // the dialer allows more than the acceptor
	a := startAgent(t, oa)
	ob := testAgentOptions(t, ca, "node-b", r)
	ob.MaxHeaderSize = 100
	b := startAgent(t, ob)
	serveEcho(b)
	waitRelaysUp(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := a.Dial(ctx, "node-b", make([]byte, 1000))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 10)); err == nil {
		t.Fatal("stream with an oversized header was served")
	}
	s.Close()
	echoOnce(t, ctx, a, "node-b", "ok", "still fine")
	if _, err := a.Dial(ctx, "node-b", make([]byte, 70000)); err == nil {
		t.Fatal("dial with a header above the local limit succeeded")
	}
}
