package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

func TestTCPRoundTrip(t *testing.T) {
	b1 := newTCPBackend(t, "b1", nil)
	b2 := newTCPBackend(t, "b2", nil)
	p, reg := newTestProxy(t, Options{})
	port := syncOne(t, p, service("web", view.TCP, 80, ep("127.0.0.1", b1.port, "n1"), ep("127.0.0.1", b2.port, "n1")))
	seen := map[string]int{}
	for range 4 {
		c := dialProxy(t, port)
		seen[readLine(t, c)]++
		io.WriteString(c, "ping\n")
		if got := readLine(t, c); got != "ping" {
			t.Fatalf("echo: got %q", got)
		}
		c.Close()
	}
	if seen["b1"] != 2 || seen["b2"] != 2 {
		t.Errorf("round robin over two backends: got %v", seen)
	}
	if n, err := testutil.GatherAndCount(reg, "outpost_proxy_connections_total"); err != nil || n == 0 {
		t.Errorf("connections metric: %d series, %v", n, err)
	}
	if v := testutil.ToFloat64(p.m.connections.WithLabelValues("default/web:80", "TCP", resultOK)); v != 4 {
		t.Errorf("ok connections = %v, want 4", v)
	}
}

func TestTCPNoEndpointsClosesAtOnce(t *testing.T) {
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("empty", view.TCP, 80))
	start := time.Now()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
	if errors.Is(err, syscall.ECONNRESET) {
		return // reset so fast that connect(2) saw it
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err) {
		t.Fatalf("read: %v, want the connection closed", err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && err != io.EOF {
		t.Errorf("read: %v, want a reset", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("closed after %v", d)
	}
	if v := testutil.ToFloat64(p.m.connections.WithLabelValues("default/empty:80", "TCP", resultNoEndpoints)); v != 1 {
		t.Errorf("no_endpoints = %v, want 1", v)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestTCPDeadEndpointSkippedAndEjected(t *testing.T) {
	live := newTCPBackend(t, "live", nil)
	// A port nobody listens on: connection refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	// And one that swallows SYNs: the connect times out.
	blackhole := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), 9)
	p, _ := newTestProxy(t, Options{ConnectTimeout: 100 * time.Millisecond, Dial: blackholeDial(blackhole)})
	svc := service("web", view.TCP, 80,
		ep("127.0.0.1", refused, "n1"), ep("127.0.0.2", 9, "n1"), ep("127.0.0.1", live.port, "n1"))
	port := syncOne(t, p, svc)
	for i := range 6 {
		start := time.Now()
		c := dialProxy(t, port)
		if got := readLine(t, c); got != "live" {
			t.Fatalf("conn %d: got %q", i, got)
		}
		// At most one blackholed attempt (the other dead one is refused at once).
		if d := time.Since(start); d > time.Second {
			t.Errorf("conn %d took %v", i, d)
		}
		c.Close()
	}
	if v := testutil.ToFloat64(p.m.ejections.WithLabelValues("default/web:80")); v != 2 {
		t.Errorf("ejections = %v, want both dead endpoints", v)
	}
	// Ejected: new connections no longer wait for the blackhole.
	start := time.Now()
	c := dialProxy(t, port)
	readLine(t, c)
	if d := time.Since(start); d > 80*time.Millisecond {
		t.Errorf("connect took %v with the dead endpoints ejected", d)
	}
}

func TestTCPSyncKeepsLiveConnections(t *testing.T) {
	b1 := newTCPBackend(t, "b1", nil)
	b2 := newTCPBackend(t, "b2", nil)
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("web", view.TCP, 80, ep("127.0.0.1", b1.port, "n1")))
	c := dialProxy(t, port)
	if got := readLine(t, c); got != "b1" {
		t.Fatalf("got %q", got)
	}
	// The endpoint set changes (b1 leaves): the socket stays and so does the connection.
	if got := syncOne(t, p, service("web", view.TCP, 80, ep("127.0.0.1", b2.port, "n1"))); got != port {
		t.Fatalf("proxy port changed from %d to %d", port, got)
	}
	io.WriteString(c, "still\n")
	if got := readLine(t, c); got != "still" {
		t.Fatalf("live connection after Sync: got %q", got)
	}
	if got := readLine(t, dialProxy(t, port)); got != "b2" {
		t.Errorf("new connection went to %q, want b2", got)
	}
	// Removing the service closes its socket and connections.
	if rs, err := p.Sync(nil); err != nil || len(rs) != 0 {
		t.Fatalf("Sync(nil) = %v, %v", rs, err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("connection of a removed service: read %v, want closed", err)
	}
	if _, err := net.DialTimeout("tcp", netip.AddrPortFrom(loopback, port).String(), time.Second); err == nil {
		t.Error("proxy port still open after the service was removed")
	}
}

func TestTCPHalfClose(t *testing.T) {
	// The backend reads the request to EOF, then answers: it needs the client's FIN.
	b := newTCPBackend(t, "hc", func(c net.Conn) {
		req, _ := io.ReadAll(c)
		io.WriteString(c, "got "+string(req))
	})
	p, _ := newTestProxy(t, Options{})
	port := syncOne(t, p, service("hc", view.TCP, 80, ep("127.0.0.1", b.port, "n1")))
	c := dialProxy(t, port)
	io.WriteString(c, "request")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := io.ReadAll(c)
	if err != nil || string(resp) != "got request" {
		t.Errorf("response %q, %v", resp, err)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	b := newTCPBackend(t, "idle", nil)
	p, _ := newTestProxy(t, Options{TCPIdleTimeout: 150 * time.Millisecond})
	port := syncOne(t, p, service("idle", view.TCP, 80, ep("127.0.0.1", b.port, "n1")))
	c := dialProxy(t, port)
	readLine(t, c)
	// Traffic every 50 ms keeps it open past several timeouts.
	for range 8 {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "x\n")
		if got := readLine(t, c); got != "x" {
			t.Fatalf("got %q", got)
		}
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if err == nil || isTimeout(err) {
		t.Fatalf("read %v, want closed by the idle timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("closed after %v", d)
	}
}

func TestSkipsUnproxiedServices(t *testing.T) {
	p, _ := newTestProxy(t, Options{})
	headless := service("headless", view.TCP, 80)
	headless.Headless, headless.ClusterIPs = true, nil
	sctp := service("sctp", "SCTP", 80)
	ext := service("ext", view.TCP, 80)
	ext.ExternalName, ext.ClusterIPs = "example.org", nil
	v6 := service("v6", view.TCP, 80)
	v6.ClusterIPs = []netip.Addr{netip.MustParseAddr("fd00::10")}
	rs, err := p.Sync([]*view.Service{headless, sctp, ext, v6})
	if err != nil || len(rs) != 0 {
		t.Errorf("Sync = %v, %v; want no redirect", rs, err)
	}
}

func TestRedirectsAndPortRange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	busy := uint16(ln.Addr().(*net.TCPAddr).Port)
	defer ln.Close()
	p, _ := newTestProxy(t, Options{PortMin: busy, PortMax: busy + 2})
	svc := service("dns", view.UDP, 53)
	svc.Ports = append(svc.Ports, view.ServicePort{Name: "tcp", Protocol: view.TCP, Port: 53})
	web := service("web", view.TCP, 80)
	web.ClusterIPs = []netip.Addr{netip.MustParseAddr("10.96.0.20")}
	rs, err := p.Sync([]*view.Service{svc, web})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("redirects %v", rs)
	}
	for _, r := range rs {
		if r.ProxyPort < busy || r.ProxyPort > busy+2 || (r.Protocol == view.TCP && r.ProxyPort == busy) {
			t.Errorf("redirect %+v: proxy port outside the free range", r)
		}
	}
	if rs[0].ClusterIP.String() != "10.96.0.10" || rs[2].ClusterIP.String() != "10.96.0.20" {
		t.Errorf("redirects not sorted: %v", rs)
	}
	// A third TCP port does not fit.
	more := service("more", view.TCP, 81)
	if _, err := p.Sync([]*view.Service{svc, web, more}); !errors.Is(err, ErrNoPort) {
		t.Errorf("Sync over the range: %v, want ErrNoPort", err)
	}
	if got := p.Redirects(); len(got) != 3 {
		t.Errorf("Redirects() = %v, want the 3 that opened", got)
	}
}

// Sockets come from the injected openers; a port that fails to open is reported and
// retried by the next Sync.
func TestInjectedListenerAndRetry(t *testing.T) {
	fail := true
	opened := 0
	listen := func(addr netip.AddrPort) (net.Listener, error) {
		if fail {
			return nil, errors.New("no sockets today")
		}
		opened++
		return net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	}
	p, _ := newTestProxy(t, Options{ListenTCP: listen})
	b := newTCPBackend(t, "b", nil)
	svc := service("web", view.TCP, 80, ep("127.0.0.1", b.port, "n1"))
	rs, err := p.Sync([]*view.Service{svc})
	if err == nil || !strings.Contains(err.Error(), "default/web:80") || len(rs) != 0 {
		t.Fatalf("Sync with a failing opener = %v, %v", rs, err)
	}
	fail = false
	port := syncOne(t, p, svc)
	if opened != 1 {
		t.Errorf("opener called %d times", opened)
	}
	if got := readLine(t, dialProxy(t, port)); got != "b" {
		t.Errorf("got %q", got)
	}
}
