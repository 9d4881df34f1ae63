//go:build integration

package iptables

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/outpostmesh/outpost/edgemesh/proxy"
	"github.com/outpostmesh/outpost/edgemesh/view"
)

// TestNetnsRoundTrip runs the real iptables and the proxy in a fresh network namespace:
// a client connects to a ClusterIP, OUTPUT REDIRECTs it to the proxy, the proxy dials a
// backend in the same namespace. Needs root; nothing touches the root namespace's rules.
//
//	go test -tags integration -run Netns ./edgemesh/iptables/
func TestNetnsRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	// Read (never written) to check the root namespace is untouched; the check runs after
	// this goroutine has left the test namespace.
	rootBefore := save(t, "")
	t.Cleanup(func() {
		if rootAfter := save(t, ""); rootAfter != rootBefore {
			t.Errorf("root namespace nat table changed:\n%s\nwas:\n%s", rootAfter, rootBefore)
		}
	})
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "opt-" + hex.EncodeToString(suffix)
	ip(t, "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ip(t, "-n", name, "link", "set", "lo", "up")
	// The ClusterIP range is routed to lo, not assigned: packets to it leave through OUTPUT,
	// where our REDIRECT catches them. "src 127.0.0.1" matters: without it the kernel picks
	// no source for a link-scope route via lo (0.0.0.0), and UDP replies are not un-NATed.
	ip(t, "-n", name, "route", "add", "10.96.0.0/16", "dev", "lo", "src", "127.0.0.1")

	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	// This goroutine stays in the namespace: its sockets, and the iptables processes it
	// forks, are the namespace's.
	runtime.LockOSThread()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("restore netns: %v", err) // the thread stays locked and dies with us
			return
		}
		runtime.UnlockOSThread()
	}()

	tcpBackend := echoTCP(t)
	udpBackend := echoUDP(t)
	p, err := proxy.New(proxy.Options{Dial: dialIn(ns, orig)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	clusterIP := netip.MustParseAddr("10.96.0.10")
	svcs := []*view.Service{
		{Namespace: "default", Name: "web", ClusterIPs: []netip.Addr{clusterIP},
			Ports:     []view.ServicePort{{Protocol: view.TCP, Port: 80}},
			Endpoints: []view.Endpoint{{IP: netip.MustParseAddr("127.0.0.1"), Ports: map[string]uint16{"": tcpBackend}, Ready: true}}},
		{Namespace: "kube-system", Name: "dns", ClusterIPs: []netip.Addr{clusterIP},
			Ports:     []view.ServicePort{{Protocol: view.UDP, Port: 53}},
			Endpoints: []view.Endpoint{{IP: netip.MustParseAddr("127.0.0.1"), Ports: map[string]uint16{"": udpBackend}, Ready: true}}},
	}
	redirects, err := p.Sync(svcs)
	if err != nil || len(redirects) != 2 {
		t.Fatalf("proxy Sync: %v, %v", redirects, err)
	}

	r, err := NewRunner(false)
	if err != nil {
		t.Fatal(err)
	}
	s := New(r, Options{ExcludeCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.96.16/32")}})
	if err := s.Sync(redirects); err != nil {
		t.Fatal(err)
	}
	first := save(t, name)
	for _, want := range []string{
		"-A PREROUTING -m comment --comment \"outpost service portals\" -j OUTPOST-SERVICES",
		"-A OUTPUT -m comment --comment \"outpost service portals\" -j OUTPOST-SERVICES",
		"-A OUTPOST-SERVICES -j OUTPOST-SVC-A",
		"-A OUTPOST-SVC-A -d 169.254.96.16/32 -j RETURN",
		"-d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports",
		"-d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("iptables-save lacks %q:\n%s", want, first)
		}
	}
	if err := s.Sync(redirects); err != nil {
		t.Fatal(err)
	}
	if again := save(t, name); again != first {
		t.Errorf("second Sync changed the rules:\n%s\nwas:\n%s", again, first)
	}

	// TCP round trip through the ClusterIP.
	c, err := net.DialTimeout("tcp", "10.96.0.10:80", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "hello")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "hello" {
		t.Errorf("TCP via ClusterIP: %q, %v", got, err)
	}
	// UDP: a connected socket only accepts the reply if it comes from the ClusterIP, which
	// checks the reverse NAT of the proxy's reply.
	u, err := net.Dial("udp", "10.96.0.10:53")
	if err != nil {
		t.Fatal(err)
	}
	u.SetDeadline(time.Now().Add(3 * time.Second))
	u.Write([]byte("query"))
	buf := make([]byte, 64)
	n, err := u.Read(buf)
	u.Close()
	if err != nil || string(buf[:n]) != "query" {
		t.Errorf("UDP via ClusterIP: %q, %v", buf[:n], err)
	}

	if err := s.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if after := save(t, name); strings.Contains(after, "OUTPOST") {
		t.Errorf("rules left after Cleanup:\n%s", after)
	}

	// Coexisting with a kube-proxy: our jump goes after KUBE-SERVICES, and Cleanup leaves
	// kube-proxy's rules alone.
	nsExec(t, name, "iptables", "-t", "nat", "-N", "KUBE-SERVICES")
	nsExec(t, name, "iptables", "-t", "nat", "-A", "KUBE-SERVICES", "-d", "10.96.0.1/32", "-p", "tcp", "-j", "DNAT", "--to-destination", "127.0.0.1:6443")
	nsExec(t, name, "iptables", "-t", "nat", "-I", "OUTPUT", "1", "-j", "KUBE-SERVICES")
	withKube := save(t, name)
	co := New(r, Options{CoexistWithKubeProxy: true})
	if err := co.Sync(redirects); err != nil {
		t.Fatal(err)
	}
	out := save(t, name)
	kube := strings.Index(out, "-A OUTPUT -j KUBE-SERVICES")
	ours := strings.Index(out, "-A OUTPUT -m comment --comment \"outpost service portals\" -j OUTPOST-SERVICES")
	if kube < 0 || ours < 0 || ours < kube {
		t.Errorf("coexisting: want our OUTPUT jump after KUBE-SERVICES:\n%s", out)
	}
	if err := co.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if after := save(t, name); after != withKube {
		t.Errorf("Cleanup touched foreign rules:\n%s\nwant:\n%s", after, withKube)
	}
}

func nsExec(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// save returns iptables-save -t nat of namespace ns ("" = the root namespace, read only)
// without comments and counters, which change between runs.
func save(t *testing.T, ns string) string {
	t.Helper()
	cmd := exec.Command("iptables-save", "-t", "nat")
	if ns != "" {
		cmd = exec.Command("ip", "netns", "exec", ns, "iptables-save", "-t", "nat")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, ":") {
			l, _, _ = strings.Cut(l, " [") // drop counters
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// dialIn dials from inside ns: the proxy's handler goroutines run on any thread, so the
// socket must be created on a thread moved into the namespace.
func dialIn(ns, orig netns.NsHandle) proxy.DialFunc {
	return func(ctx context.Context, ep view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error) {
		network := "tcp"
		if proto == view.UDP {
			network = "udp"
		}
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ep.IP, port).String())
		if rerr := netns.Set(orig); rerr != nil {
			return c, err // thread stays locked, so it is not reused in the wrong namespace
		}
		runtime.UnlockOSThread()
		return c, err
	}
}

// echoTCP serves TCP echo on 127.0.0.1 in the current namespace until cleanup.
func echoTCP(t *testing.T) uint16 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.Copy(c, c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// echoUDP serves UDP echo on 127.0.0.1 in the current namespace until cleanup.
func echoUDP(t *testing.T) uint16 {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}
