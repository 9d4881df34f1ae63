package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// fakeClock is a settable clock for affinity and ejection.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ep is a ready endpoint serving port for the unnamed service port.
func ep(ip string, port uint16, node string) view.Endpoint {
	return view.Endpoint{IP: netip.MustParseAddr(ip), Ports: map[string]uint16{"": port}, NodeName: node, Ready: true, Serving: true}
}

func service(name string, proto view.Protocol, port uint16, eps ...view.Endpoint) *view.Service {
	return &view.Service{
		Namespace:  "default",
		Name:       name,
		ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.10")},
		Ports:      []view.ServicePort{{Protocol: proto, Port: port}},
		Endpoints:  eps,
	}
}

// newTestProxy starts a proxy on 127.0.0.1 with its own registry; Close runs at cleanup.
func newTestProxy(t *testing.T, opts Options) (*Proxy, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.ListenIP = loopback
	opts.Registerer = reg
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, reg
}

// syncOne syncs services and returns the proxy port of the first redirect.
func syncOne(t *testing.T, p *Proxy, svcs ...*view.Service) uint16 {
	t.Helper()
	rs, err := p.Sync(svcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatal("no redirect")
	}
	return rs[0].ProxyPort
}

// tcpBackend serves on 127.0.0.1: it writes its name, then echoes. It stops at cleanup.
type tcpBackend struct {
	name string
	ln   net.Listener
	port uint16
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func newTCPBackend(t *testing.T, name string, handle func(net.Conn)) *tcpBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &tcpBackend{name: name, ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	if handle == nil {
		handle = func(c net.Conn) {
			io.WriteString(c, name+"\n")
			io.Copy(c, c)
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *tcpBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// udpBackend echoes datagrams prefixed with its name.
type udpBackend struct {
	pc   *net.UDPConn
	port uint16
	done chan struct{}
}

func newUDPBackend(t *testing.T, name string) *udpBackend {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := &udpBackend{pc: pc, port: uint16(pc.LocalAddr().(*net.UDPAddr).Port), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(append([]byte(name+":"), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-b.done })
	return b
}

// dialProxy connects to the TCP proxy port.
func dialProxy(t *testing.T, port uint16) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, net.TCPAddrFromAddrPort(netip.AddrPortFrom(loopback, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readLine reads up to and including '\n' with a deadline.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			t.Fatalf("read after %q: %v", out, err)
		}
		if b[0] == '\n' {
			return string(out)
		}
		out = append(out, b[0])
	}
}

// blackholeDial blocks connects to the given addresses until the context ends and dials
// the others directly, as a host that drops SYNs would.
func blackholeDial(dead ...netip.AddrPort) DialFunc {
	return func(ctx context.Context, e view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error) {
		for _, d := range dead {
			if d == netip.AddrPortFrom(e.IP, port) {
				<-ctx.Done()
				return nil, errors.Join(errors.New("blackholed"), ctx.Err())
			}
		}
		return dialDirect(ctx, e, port, proto)
	}
}
