package edgemesh

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/tunnel"
)

// fakeStream is a tunnel.Stream over one end of a loopback TCP connection.
type fakeStream struct {
	*net.TCPConn
	header []byte
}

func (f *fakeStream) Peer() string          { return "peer-x" }
func (f *fakeStream) Header() []byte        { return f.header }
func (f *fakeStream) Path() tunnel.PathKind { var k tunnel.PathKind; return k }
func (f *fakeStream) CloseRead() error      { return f.TCPConn.CloseRead() }
func (f *fakeStream) CloseWrite() error     { return f.TCPConn.CloseWrite() }

// streamPair returns the serving end (a fakeStream with header) and the dialing end.
func streamPair(t *testing.T, h endpointHeader) (*fakeStream, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(h)
	t.Cleanup(func() { c.Close(); s.Close() })
	return &fakeStream{TCPConn: s.(*net.TCPConn), header: b}, c.(*net.TCPConn)
}

func storeWith(node string, eps ...netip.AddrPort) *view.Store {
	st := view.NewStore()
	svc := &view.Service{Namespace: "ns", Name: "svc", Ports: []view.ServicePort{{Name: "p", Protocol: view.TCP, Port: 80}}}
	for _, e := range eps {
		svc.Endpoints = append(svc.Endpoints, view.Endpoint{IP: e.Addr(), NodeName: node, Ready: true, Ports: map[string]uint16{"p": e.Port()}})
	}
	st.Upsert(svc)
	return st
}

func TestServeStreamTCPAndRefusal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	ep := netip.MustParseAddrPort(l.Addr().String())
	st := storeWith("me", ep)
	ctx := context.Background()

	s, c := streamPair(t, endpointHeader{Protocol: view.TCP, Addr: ep})
	done := make(chan error, 1)
	go func() { done <- serveStream(ctx, s, st, "me", time.Second) }()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("echo through stream: %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	for name, h := range map[string]endpointHeader{
		"other node's endpoint": {Protocol: view.TCP, Addr: netip.MustParseAddrPort("127.0.0.1:1")},
		"bad protocol":          {Protocol: "SCTP", Addr: ep},
	} {
		s, _ := streamPair(t, h)
		if err := serveStream(ctx, s, storeWith("other", ep), "me", time.Second); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, _ = streamPair(t, endpointHeader{})
	s.header = []byte("{garbage")
	if err := serveStream(ctx, s, st, "me", time.Second); err == nil {
		t.Error("garbage header accepted")
	}
	s, _ = streamPair(t, endpointHeader{Protocol: view.TCP, Addr: netip.MustParseAddrPort("10.9.9.9:80")})
	if err := serveStream(ctx, s, st, "me", time.Second); !errors.Is(err, ErrNotLocalEndpoint) {
		t.Errorf("arbitrary address: %v, want ErrNotLocalEndpoint", err)
	}
}

func TestServeStreamUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("re:"), b[:n]...), from)
		}
	}()
	ep := netip.MustParseAddrPort(pc.LocalAddr().String())
	s, c := streamPair(t, endpointHeader{Protocol: view.UDP, Addr: ep})
	go func() { _ = serveStream(context.Background(), s, storeWith("me", ep), "me", time.Second) }()
	dc := &datagramConn{Conn: c}
	buf := make([]byte, 64)
	for _, msg := range []string{"one", "two", ""} {
		if _, err := dc.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := dc.Read(buf)
		if err != nil || string(buf[:n]) != "re:"+msg {
			t.Fatalf("datagram %q: got %q, %v", msg, buf[:n], err)
		}
	}
	if _, err := dc.Write(make([]byte, maxDatagram+1)); err == nil {
		t.Fatal("oversized datagram accepted")
	}
}
