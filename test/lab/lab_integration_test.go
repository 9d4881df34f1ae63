//go:build integration

package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLab checks the lab itself: what the sites reach, what they must not, how the two NATs map
// ports, that a cut uplink cuts, and that Close leaves nothing behind.
func TestLab(t *testing.T) {
	iptBefore := rootIptables(t)
	run := ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	network, err := run.NewNetwork(Topology{
		Public: []string{"cloud", "relay", "probe"},
		Sites: []SiteSpec{
			{Name: "a", NAT: EasyNAT, Hosts: 2},
			{Name: "b", NAT: HardNAT, Hosts: 1},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("two-site topology up in %v", time.Since(start))
	start = time.Now()
	cp, err := run.StartControlPlane(ctx, ControlPlaneOptions{Host: network.Public["cloud"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready in %v; RSS etcd %d MiB, kube-apiserver %d MiB",
		time.Since(start), RSS(cp.Etcd.Pid)>>20, RSS(cp.APIServer.Pid)>>20)

	a, b := network.Sites["a"], network.Sites["b"]
	a1, a2, b1 := a.Hosts[0], a.Hosts[1], b.Hosts[0]
	relay, probe := network.Public["relay"], network.Public["probe"]

	t.Run("site host reaches the apiserver through its NAT", func(t *testing.T) {
		for _, h := range []*Host{a1, b1} {
			if code := readyz(ctx, t, cp, h); code != http.StatusOK {
				t.Fatalf("%s: /readyz answered %d", h.Name, code)
			}
		}
	})
	t.Run("root namespace reaches the apiserver through the forwarder", func(t *testing.T) {
		c, err := cp.Client()
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != "v1.36.3" {
			t.Fatalf("apiserver version %q, want v1.36.3", v.GitVersion)
		}
	})

	echo := tcpEcho(t, relay, ":7000")
	lanEcho := tcpEcho(t, a2, ":7001")
	t.Run("site host reaches a public host", func(t *testing.T) {
		if err := roundTrip(ctx, a1, echo); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(ctx, b1, echo); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("same-LAN hosts reach each other directly", func(t *testing.T) {
		if err := roundTrip(ctx, a1, lanEcho); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("site A cannot reach site B's private addresses", func(t *testing.T) {
		addr := tcpEcho(t, b1, ":7002")
		if err := roundTrip(ctx, a1, addr); err == nil {
			t.Fatalf("a1 reached %s", addr)
		}
	})
	t.Run("public host cannot open a connection into a site", func(t *testing.T) {
		addr := tcpEcho(t, a1, ":7003")
		for _, target := range []string{addr, net.JoinHostPort(a.WANIP.String(), "7003")} {
			if err := roundTrip(ctx, relay, target); err == nil {
				t.Fatalf("relay reached %s", target)
			}
		}
		// An existing mapping does not admit a stranger: a1 talks to relay, probe uses the port.
		srv := udpSources(t, relay, ":7100")
		c, err := a1.ListenPacket("udp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mapped := sendAndSee(t, c, srv)
		stranger, err := probe.ListenPacket("udp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer stranger.Close()
		if _, err := stranger.WriteTo([]byte("knock"), mapped); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, from, err := c.ReadFrom(make([]byte, 64)); err == nil {
			t.Fatalf("a1 received %d bytes from %v through its NAT", n, from)
		}
	})
	t.Run("easy NAT keeps the public port per socket, hard NAT does not", func(t *testing.T) {
		s1, s2 := udpSources(t, relay, ":7200"), udpSources(t, probe, ":7200")
		for _, tc := range []struct {
			h        *Host
			wantSame bool
		}{{a1, true}, {b1, false}} {
			c, err := tc.h.ListenPacket("udp4", ":0")
			if err != nil {
				t.Fatal(err)
			}
			m1, m2 := sendAndSee(t, c, s1), sendAndSee(t, c, s2)
			c.Close()
			if same := m1.Port == m2.Port; same != tc.wantSame {
				t.Fatalf("%s: public ports %d and %d; want same=%v", tc.h.Name, m1.Port, m2.Port, tc.wantSame)
			}
		}
	})
	t.Run("conntrack flush rebinds the hard NAT", func(t *testing.T) {
		srv := udpSources(t, relay, ":7300")
		c, err := b1.ListenPacket("udp4", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m1 := sendAndSee(t, c, srv)
		if err := b.FlushConntrack(); err != nil {
			t.Fatal(err)
		}
		if m2 := sendAndSee(t, c, srv); m2.Port == m1.Port {
			t.Fatalf("public port %d survived the flush", m1.Port)
		}
	})
	t.Run("loss drops a share of packets", func(t *testing.T) {
		if err := a.SetLoss(0.5); err != nil {
			t.Fatal(err)
		}
		got := countUDP(t, a1, relay, ":7400", 200)
		if err := a.SetLoss(0); err != nil {
			t.Fatal(err)
		}
		if got < 20 || got > 180 {
			t.Fatalf("with 50%% loss %d of 200 packets arrived", got)
		}
		if got := countUDP(t, a1, relay, ":7401", 50); got != 50 {
			t.Fatalf("after removing loss %d of 50 packets arrived", got)
		}
	})
	t.Run("a cut uplink cuts, and restoring it restores", func(t *testing.T) {
		if err := a.CutUplink(); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(ctx, a1, echo); err == nil {
			t.Fatal("a1 reached the relay with its uplink cut")
		}
		if err := roundTrip(ctx, a1, lanEcho); err != nil {
			t.Fatalf("the LAN should still work with the uplink cut: %v", err)
		}
		if err := a.RestoreUplink(); err != nil {
			t.Fatal(err)
		}
		if err := roundTrip(ctx, a1, echo); err != nil {
			t.Fatalf("after restore: %v", err)
		}
	})

	// Cleanup: everything of this run disappears, the root namespace's rules are as before.
	if err := run.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := listNetns()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, nsPrefix+run.ID) {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if after := rootIptables(t); after != iptBefore {
		t.Errorf("root iptables changed:\nbefore:\n%s\nafter:\n%s", iptBefore, after)
	}
	if processAlive(cp.APIServer.Pid) || processAlive(cp.Etcd.Pid) {
		t.Error("control plane processes still running")
	}
}

func rootIptables(t *testing.T) string {
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "#") { // comments carry timestamps
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func readyz(ctx context.Context, t *testing.T, cp *ControlPlane, from *Host) int {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext:     from.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: cp.CA.Pool(), Certificates: []tls.Certificate{cp.Admin.TLSCertificate()}},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.InternalURL+"/readyz", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", from.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// tcpEcho serves an echo on h and returns its address.
func tcpEcho(t *testing.T, h *Host, addr string) string {
	l, err := h.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return net.JoinHostPort(h.IP.String(), port)
}

func roundTrip(ctx context.Context, from *Host, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := from.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != "ping" {
		return fmt.Errorf("echo returned %q", b)
	}
	return nil
}

// udpSources serves UDP on h and answers every packet with the source address it saw.
func udpSources(t *testing.T, h *Host, addr string) *net.UDPAddr {
	c, err := h.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 1500)
		for {
			_, from, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			_, _ = c.WriteTo([]byte(from.String()), from)
		}
	}()
	_, port, _ := net.SplitHostPort(c.LocalAddr().String())
	ua, _ := net.ResolveUDPAddr("udp4", net.JoinHostPort(h.IP.String(), port))
	return ua
}

// sendAndSee sends from c to srv and returns the source address srv saw (the NAT mapping).
func sendAndSee(t *testing.T, c net.PacketConn, srv *net.UDPAddr) *net.UDPAddr {
	t.Helper()
	b := make([]byte, 64)
	for try := 0; try < 5; try++ {
		if _, err := c.WriteTo([]byte("where am I"), srv); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := c.ReadFrom(b)
		if err != nil {
			continue
		}
		ua, err := net.ResolveUDPAddr("udp4", string(b[:n]))
		if err != nil {
			t.Fatal(err)
		}
		return ua
	}
	t.Fatalf("no answer from %v", srv)
	return nil
}

// countUDP sends n packets from one host to a sink on another and returns how many arrived.
func countUDP(t *testing.T, from, to *Host, addr string, n int) int {
	sink, err := to.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	c, err := from.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, port, _ := net.SplitHostPort(sink.LocalAddr().String())
	dst, _ := net.ResolveUDPAddr("udp4", net.JoinHostPort(to.IP.String(), port))
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo([]byte{byte(i)}, dst); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // keep below socket buffer limits
	}
	got := 0
	b := make([]byte, 16)
	for {
		_ = sink.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := sink.ReadFrom(b); err != nil {
			return got
		}
		got++
	}
}
