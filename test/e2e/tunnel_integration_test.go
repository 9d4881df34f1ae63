//go:build integration

package e2e

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
)

// matrixTopology: a public relay (two, for failover) and four sites, so that every NAT pairing
// has its own hosts.
var matrixTopology = lab.Topology{
	Public: []string{"relay", "relay2"},
	Sites: []lab.SiteSpec{
		{Name: "a", NAT: lab.EasyNAT, Hosts: 2},
		{Name: "b", NAT: lab.HardNAT, Hosts: 1},
		{Name: "c", NAT: lab.EasyNAT, Hosts: 1},
		{Name: "d", NAT: lab.HardNAT, Hosts: 1},
	},
}

// TestTunnelMatrix: the path each NAT pairing ends on — direct where the NATs allow, relayed
// otherwise — with traffic flowing from the first stream on.
func TestTunnelMatrix(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	for _, h := range []string{"a1", "a2", "b1", "c1", "d1"} {
		l.startAgent(h, "relay")
	}
	cases := []struct {
		name, from, to string
		want           tunnel.PathKind
	}{
		{"same LAN", "a1", "a2", tunnel.PathDirect},
		{"easy/easy", "a1", "c1", tunnel.PathDirect},
		{"easy/hard", "c1", "b1", tunnel.PathRelay},
		{"hard/hard", "b1", "d1", tunnel.PathRelay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := ctxFor(20 * time.Second)
			defer cancel()
			a := l.agents[tc.from]
			first, err := echo(ctx, a, tc.to, 1024)
			if err != nil {
				t.Fatalf("first stream: %v", err)
			}
			// Punching gets its full timeout before the relayed pairs are judged.
			wait := 3 * time.Second
			if tc.want == tunnel.PathRelay {
				wait = 7 * time.Second
				time.Sleep(wait)
			}
			st := waitPath(a, tc.to, tc.want, wait)
			if st.Path != tc.want {
				t.Fatalf("path %s, want %s (%+v)", st.Path, tc.want, st)
			}
			if _, err := echo(ctx, a, tc.to, 64<<10); err != nil {
				t.Fatalf("stream after settling on %s: %v", st.Path, err)
			}
			t.Logf("%s: first stream %v, path %s (%s/%s) rtt %v", tc.name, first.Round(time.Millisecond),
				st.Path, st.LocalCandidate, st.RemoteCandidate, st.RTT)
		})
	}
	t.Run("1000 concurrent streams", func(t *testing.T) {
		ctx, cancel := ctxFor(60 * time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := echo(ctx, l.agents["a1"], "c1", 512); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		n := 0
		for err := range errs {
			if n == 0 {
				t.Errorf("stream failed: %v", err)
			}
			n++
		}
		if n > 0 {
			t.Fatalf("%d of 1000 streams failed", n)
		}
	})
	t.Run("conntrack flush mid-transfer breaks no stream", func(t *testing.T) {
		ctx, cancel := ctxFor(60 * time.Second)
		defer cancel()
		a := l.agents["a1"]
		s, err := a.Dial(ctx, "c1", []byte("echo"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(50 * time.Second))
		buf := make([]byte, 8<<10)
		got := make([]byte, len(buf))
		for i := 0; i < 200; i++ {
			binary.BigEndian.PutUint32(buf, uint32(i))
			if i == 50 {
				for _, site := range []string{"a", "c"} {
					if err := l.net.Sites[site].FlushConntrack(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := s.Write(buf); err != nil {
				t.Fatalf("write %d after flush: %v", i, err)
			}
			if _, err := readFull(s, got); err != nil {
				t.Fatalf("read %d after flush: %v", i, err)
			}
			if binary.BigEndian.Uint32(got) != uint32(i) {
				t.Fatalf("stream out of step at %d", i)
			}
		}
	})
	t.Run("garbage on the agent socket", func(t *testing.T) {
		port := l.agents["a2"].LocalAddr().(*net.UDPAddr).Port
		c, err := l.net.Host("a1").ListenPacket("udp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dst := &net.UDPAddr{IP: l.net.Host("a2").IP, Port: port}
		for i, p := range [][]byte{{}, {0}, {0xff, 0xff, 0xff}, make([]byte, 1400), []byte("\x00\x01\x00\x00garbage-stun"), []byte("\xc0\x00\x00\x00\x01quic-ish")} {
			for j := 0; j < 20; j++ {
				if _, err := c.WriteTo(append(p, byte(i), byte(j)), dst); err != nil {
					t.Fatal(err)
				}
			}
		}
		ctx, cancel := ctxFor(10 * time.Second)
		defer cancel()
		if _, err := echo(ctx, l.agents["a1"], "a2", 4096); err != nil {
			t.Fatalf("after garbage: %v", err)
		}
	})
}

func readFull(s tunnel.Stream, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := s.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestTunnelRelayFailover: with two relays configured, killing one leaves relayed pairs working
// through the other.
func TestTunnelRelayFailover(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	l.startRelay("relay2")
	b1 := l.startAgent("b1", "relay", "relay2")
	l.startAgent("d1", "relay", "relay2")
	ctx, cancel := ctxFor(60 * time.Second)
	defer cancel()
	if _, err := echo(ctx, b1, "d1", 1024); err != nil {
		t.Fatal(err)
	}
	before := statusOf(b1, "d1")
	dead := before.Relay
	if dead == "" {
		dead = "relay"
	}
	if err := l.relays[dead].Close(); err != nil {
		t.Fatal(err)
	}
	// Bounded: new streams must succeed through the surviving relay within the deadline.
	var lastErr error
	for try := 0; try < 40; try++ {
		sctx, scancel := ctxFor(5 * time.Second)
		_, lastErr = echo(sctx, b1, "d1", 1024)
		scancel()
		if lastErr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("no stream after relay %s died: %v", dead, lastErr)
	}
	if st := statusOf(b1, "d1"); st.Path != tunnel.PathRelay || st.Relay == dead {
		t.Fatalf("after failover: %+v (dead relay %s)", st, dead)
	}
}

// TestTunnelUplinkCut: a cut uplink stops traffic to the site; after restore, new streams work.
func TestTunnelUplinkCut(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	a1 := l.startAgent("a1", "relay")
	l.startAgent("c1", "relay")
	ctx, cancel := ctxFor(30 * time.Second)
	defer cancel()
	if _, err := echo(ctx, a1, "c1", 1024); err != nil {
		t.Fatal(err)
	}
	site := l.net.Sites["c"]
	if err := site.CutUplink(); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := ctxFor(2 * time.Second)
	if _, err := echo(cctx, a1, "c1", 1024); err == nil {
		t.Fatal("a stream reached a site with its uplink cut")
	}
	ccancel()
	if err := site.RestoreUplink(); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for try := 0; try < 30; try++ {
		sctx, scancel := ctxFor(5 * time.Second)
		_, lastErr = echo(sctx, a1, "c1", 1024)
		scancel()
		if lastErr == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no stream after the uplink came back: %v", lastErr)
}

// TestTunnelLANWithoutRelay: same-LAN agents connect through LAN discovery while the site is
// cut off from the relay (and the cloud).
func TestTunnelLANWithoutRelay(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	if err := l.net.Sites["a"].CutUplink(); err != nil {
		t.Fatal(err)
	}
	a1 := l.startAgent("a1", "relay")
	l.startAgent("a2", "relay")
	ctx, cancel := ctxFor(20 * time.Second)
	defer cancel()
	if _, err := echo(ctx, a1, "a2", 4096); err != nil {
		t.Fatalf("same-LAN stream with the relay unreachable: %v", err)
	}
	if st := statusOf(a1, "a2"); st.Path != tunnel.PathDirect {
		t.Fatalf("path %+v, want direct", st)
	}
}

// TestTunnelIdentityRefused: agents with a certificate from another CA, an expired one, or
// another node's name get no stream, and honest agents keep working.
func TestTunnelIdentityRefused(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	good := l.startAgent("a1", "relay")
	l.startAgent("c1", "relay")
	other, err := pki.NewCA("intruder", 0)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Issue(pki.NodeSpec("a2"))
	expiredSpec := pki.NodeSpec("a2")
	expiredSpec.Now = time.Now().Add(-72 * time.Hour)
	expiredSpec.Validity = time.Hour
	expired, _ := l.ca.Issue(expiredSpec)
	impostor, _ := l.ca.Issue(pki.NodeSpec("c1")) // a2 claiming to be c1's identity
	for name, kp := range map[string]*pki.KeyPair{"other CA": foreign, "expired": expired, "another node's name": impostor} {
		t.Run(name, func(t *testing.T) {
			o := l.agentOpts(l.net.Host("a2"), kp, "relay")
			o.NodeName = "a2"
			o.LAN = nil
			bad, err := tunnel.New(o)
			if err != nil {
				return // refused at construction: fine
			}
			ctx, cancel := ctxFor(4 * time.Second)
			defer cancel()
			if err := bad.Start(ctx); err == nil {
				defer bad.Close()
				if s, err := bad.Dial(ctx, "a1", []byte("x")); err == nil {
					s.Close()
					t.Fatal("an agent with a bad identity got a stream")
				}
			}
		})
	}
	ctx, cancel := ctxFor(10 * time.Second)
	defer cancel()
	if _, err := echo(ctx, good, "c1", 1024); err != nil {
		t.Fatalf("honest agents after the attempts: %v", err)
	}
}

// TestRelayBadSignalling: a session that sends garbage or an oversized frame is closed; the
// relay keeps serving the others.
func TestRelayBadSignalling(t *testing.T) {
	l := newTunnelLab(t, matrixTopology)
	l.startRelay("relay")
	a1 := l.startAgent("a1", "relay")
	l.startAgent("b1", "relay")
	kp, err := l.ca.Issue(pki.NodeSpec("c1"))
	if err != nil {
		t.Fatal(err)
	}
	relayIP := l.net.Public["relay"].IP.String()
	for name, payload := range map[string][]byte{
		"garbage":   []byte("this is not a frame at all, just bytes"),
		"oversized": append([]byte{0xff, 0xff, 0xff, 0x7f}, make([]byte, 1024)...),
		"bad json":  append([]byte{0, 0, 0, 5}, []byte("{{{{{")...),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := ctxFor(5 * time.Second)
			defer cancel()
			raw, err := l.net.Host("c1").DialContext(ctx, "tcp4", net.JoinHostPort(relayIP, signalPort))
			if err != nil {
				t.Fatal(err)
			}
			c := tls.Client(raw, tlsClient(l.ca, kp, relayIP))
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write(payload)
			// The relay must close the session (EOF or reset), not hang or crash.
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Fatal("relay kept a session that sent a bad frame")
					}
					return
				}
			}
		})
	}
	ctx, cancel := ctxFor(15 * time.Second)
	defer cancel()
	if _, err := echo(ctx, a1, "b1", 1024); err != nil {
		t.Fatalf("relayed pair after bad sessions: %v", err)
	}
}
