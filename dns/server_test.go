package dns

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// startServer runs a Server on 127.0.0.1:0 (UDP and TCP, same port).
func startServer(t *testing.T, mod func(*Options)) (*Server, string) {
	t.Helper()
	opts := Options{Catalog: fixtureCatalog(), Listen: []string{"127.0.0.1:0"},
		ResolvConf: emptyResolvConf(t), Registerer: prometheus.NewRegistry(), Logger: quiet}
	if mod != nil {
		mod(&opts)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, s.Addrs()[0].String()
}

func exchange(t *testing.T, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return r
}

func TestServerLoopback(t *testing.T) {
	s, addr := startServer(t, nil)
	if got := s.Addrs(); len(got) != 2 || got[0].String() != got[1].String() {
		t.Fatalf("UDP and TCP on different ports: %v", got)
	}

	r := exchange(t, "udp", addr, new(dns.Msg).SetQuestion("web.shop.svc.cluster.local.", dns.TypeA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.96.0.10" || r.Answer[0].Header().Ttl != 5 {
		t.Fatalf("udp answer %v", r)
	}

	// UDP without EDNS truncates; TCP carries all 100 records.
	big := new(dns.Msg).SetQuestion("big.shop.svc.cluster.local.", dns.TypeA)
	if r := exchange(t, "udp", addr, big); !r.Truncated {
		t.Fatal("UDP answer over 512 bytes not truncated")
	}
	if r := exchange(t, "tcp", addr, big); r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("TCP answer: TC %v, %d records", r.Truncated, len(r.Answer))
	}
}

// TestServerBadPackets sends raw packets: those with a parsable header get an
// answer (FORMERR, NOTIMP), the rest are dropped, and the server survives.
func TestServerBadPackets(t *testing.T) {
	s, addr := startServer(t, nil)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(b []byte) *dns.Msg {
		t.Helper()
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("server sent an unparsable answer: %v", err)
		}
		return m
	}
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	if m := send([]byte{1, 2, 3}); m != nil {
		t.Fatalf("answered a 3-byte packet: %v", m)
	}

	two := new(dns.Msg).SetQuestion("a.cluster.local.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m := send(pack(two)); m == nil || m.Rcode != dns.RcodeFormatError || m.Id != two.Id {
		t.Fatalf("QDCOUNT 2: %v", m)
	}

	zero := new(dns.Msg).SetQuestion("a.cluster.local.", dns.TypeA)
	zero.Question = nil
	if m := send(pack(zero)); m == nil || m.Rcode != dns.RcodeFormatError {
		t.Fatalf("QDCOUNT 0: %v", m)
	}

	notify := new(dns.Msg).SetNotify("cluster.local.")
	if m := send(pack(notify)); m == nil || m.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("NOTIFY: %v", m)
	}

	// Header promises a question, body is cut short.
	cut := pack(new(dns.Msg).SetQuestion("web.shop.svc.cluster.local.", dns.TypeA))
	if m := send(cut[:20]); m == nil || m.Rcode != dns.RcodeFormatError {
		t.Fatalf("truncated body: %v", m)
	}

	resp := new(dns.Msg).SetQuestion("web.shop.svc.cluster.local.", dns.TypeA)
	resp.Response = true
	if m := send(pack(resp)); m != nil {
		t.Fatalf("answered a response: %v", m)
	}

	if got := testutil.ToFloat64(s.Handler().metrics.invalid); got < 2 {
		t.Errorf("invalid_requests_total = %v, want >= 2", got)
	}
	// Still serving.
	if m := send(pack(new(dns.Msg).SetQuestion("web.shop.svc.cluster.local.", dns.TypeA))); m == nil || len(m.Answer) != 1 {
		t.Fatalf("server broken after bad packets: %v", m)
	}
}

func TestServerInjectedSockets(t *testing.T) {
	pc, l, err := listenBoth(Options{}.Default(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{Catalog: fixtureCatalog(), PacketConns: []net.PacketConn{pc}, Listeners: []net.Listener{l},
		ResolvConf: emptyResolvConf(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	// Run starts asynchronously: retry the first exchange briefly.
	var r *dns.Msg
	for range 50 {
		c := dns.Client{Net: "tcp", Timeout: 200 * time.Millisecond}
		if r, _, err = c.Exchange(new(dns.Msg).SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA), l.Addr().String()); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("answer %v, err %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

func TestServerOptionsErrors(t *testing.T) {
	if _, err := NewServer(Options{Catalog: fixtureCatalog(), ResolvConf: emptyResolvConf(t), Logger: quiet}); !errors.Is(err, ErrNoListeners) {
		t.Fatalf("no listeners: %v", err)
	}
	if _, err := NewServer(Options{Listen: []string{"127.0.0.1:0"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("no catalog: %v", err)
	}
	if _, err := NewHandler(Options{Catalog: fixtureCatalog(), Zone: "bad..zone"}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("bad zone: %v", err)
	}
	if _, err := NewServer(Options{Catalog: fixtureCatalog(), Listen: []string{"256.0.0.1:0"}, ResolvConf: emptyResolvConf(t), Logger: quiet}); err == nil {
		t.Fatal("bad listen address accepted")
	}
	// Registering twice on one registry fails cleanly.
	reg := prometheus.NewRegistry()
	if _, err := NewHandler(Options{Catalog: fixtureCatalog(), Registerer: reg, ResolvConf: emptyResolvConf(t), Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHandler(Options{Catalog: fixtureCatalog(), Registerer: reg, ResolvConf: emptyResolvConf(t), Logger: quiet}); err == nil {
		t.Fatal("second registration on the same registry accepted")
	}
}

// TestServerSkipsItselfAsUpstream: resolv.conf naming the server's own
// address must not make it forward to itself.
func TestServerSkipsItselfAsUpstream(t *testing.T) {
	pc, l, err := listenBoth(Options{}.Default(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{Catalog: fixtureCatalog(), PacketConns: []net.PacketConn{pc}, Listeners: []net.Listener{l},
		Upstreams: []string{pc.LocalAddr().String()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ups := s.Handler().Upstreams(); len(ups) != 0 {
		t.Fatalf("upstreams %v include the server itself", ups)
	}
}
