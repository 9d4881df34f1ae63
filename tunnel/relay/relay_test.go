package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/pki"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
}

func TestReadFrame(t *testing.T) {
	frame := func(payload string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
		return append(b, payload...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"ping", frame(`{"type":"ping"}`), nil},
		{"signal", frame(`{"type":"signal","to":"b","payload":{"x":1}}`), nil},
		{"zero length", frame(""), ErrFrameTooLarge},
		{"too large", binary.BigEndian.AppendUint32(nil, DefaultMaxFrameSize+1), ErrFrameTooLarge},
		{"huge", []byte{0xff, 0xff, 0xff, 0xff}, ErrFrameTooLarge},
		{"not json", frame("hello"), ErrMalformedFrame},
		{"json array", frame("[1,2]"), ErrMalformedFrame},
		{"unknown type", frame(`{"type":"shutdown"}`), ErrMalformedFrame},
		{"welcome without body", frame(`{"type":"welcome"}`), ErrMalformedFrame},
		{"signal without addressee", frame(`{"type":"signal"}`), ErrMalformedFrame},
		{"truncated", frame(`{"type":"ping"}`)[:8], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tc.in), 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadFrame = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWriteFrameTooLarge(t *testing.T) {
	m := &Message{Type: TypeSignal, To: "b", Payload: json.RawMessage(`"` + strings.Repeat("x", 100) + `"`)}
	if err := WriteFrame(io.Discard, m, 50); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("WriteFrame = %v", err)
	}
}

type fixture struct {
	ca   *pki.CA
	srv  *Server
	reg  *prometheus.Registry
	stop func()
}

func newFixture(t *testing.T) *fixture {
	ca, err := pki.NewCA("test", 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(pki.CertSpec{CommonName: "relay", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv, err := NewServer(Options{
		ID: "r1", SignalAddr: "127.0.0.1:0", TURNAddr: "127.0.0.1:0",
		Cert: kp.TLSCertificate(), Roots: ca.Pool(), Registerer: reg,
		Logger: ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2))),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	f := &fixture{ca: ca, srv: srv, reg: reg}
	f.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(f.stop)
	for !srv.Ready() {
		time.Sleep(time.Millisecond)
	}
	return f
}

func (f *fixture) client(t *testing.T, ca *pki.CA, node string) (*Client, error) {
	kp, err := ca.Issue(pki.NodeSpec(node))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ClientOptions{
		Addr:      f.srv.SignalAddr().String(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, RootCAs: f.ca.Pool()},
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// run starts c.Run and returns the messages it hands over and its result.
func run(c *Client) (<-chan *Message, <-chan error) {
	msgs := make(chan *Message, 16)
	res := make(chan error, 1)
	go func() { res <- c.Run(context.Background(), func(m *Message) { msgs <- m }) }()
	return msgs, res
}

func TestSignalling(t *testing.T) {
	f := newFixture(t)
	a, err := f.client(t, f.ca, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.client(t, f.ca, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	w := a.Welcome()
	if w.Node != "node-a" || w.RelayID != "r1" || w.TURNAddr != f.srv.TURNAddr() || !strings.HasSuffix(w.Username, ":node-a") || w.Password == "" {
		t.Fatalf("welcome %+v", w)
	}
	amsgs, ares := run(a)
	bmsgs, bres := run(b)
	// From is stamped by the relay, whatever the sender claims.
	if err := a.Send(&Message{Type: TypeSignal, ID: "1", From: "node-z", To: "node-b", Payload: json.RawMessage(`{"k":"v"}`)}); err != nil {
		t.Fatal(err)
	}
	m := <-bmsgs
	if m.From != "node-a" || m.ID != "1" || string(m.Payload) != `{"k":"v"}` {
		t.Fatalf("got %+v", m)
	}
	if err := a.Send(&Message{Type: TypeSignal, ID: "2", To: "node-nobody"}); err != nil {
		t.Fatal(err)
	}
	m = <-amsgs
	if m.Type != TypeError || m.ID != "2" || m.Error != ErrPeerOffline.Error() {
		t.Fatalf("got %+v", m)
	}
	_ = a.Close()
	_ = b.Close()
	<-ares
	<-bres
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t)
	other, _ := pki.NewCA("other", 0)
	if _, err := f.client(t, other, "node-a"); err == nil {
		t.Fatal("client with a foreign CA got a session")
	}
	// A CA-signed certificate that is not a node identity.
	kp, _ := f.ca.Issue(pki.CertSpec{CommonName: "admin", Client: true})
	conn, err := tls.Dial("tcp", f.srv.SignalAddr().String(), &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"})
	if err == nil {
		_, err = ReadFrame(conn, 0)
		conn.Close()
	}
	if err == nil {
		t.Fatal("non-node certificate got a welcome")
	}
	if got := testutil.ToFloat64(f.srv.metrics.handshakes.WithLabelValues("unauthenticated")); got != 1 {
		t.Errorf("unauthenticated handshakes = %v", got)
	}
}

// TestBadFrames: oversized, malformed and unexpected frames close the offending session with
// an error frame; the relay keeps serving everyone else.
func TestBadFrames(t *testing.T) {
	f := newFixture(t)
	good, err := f.client(t, f.ca, "node-good")
	if err != nil {
		t.Fatal(err)
	}
	gmsgs, gres := run(good)
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"oversized", binary.BigEndian.AppendUint32(nil, 1<<30), "frame size out of range"},
		{"zero", binary.BigEndian.AppendUint32(nil, 0), "frame size out of range"},
		{"garbage", append(binary.BigEndian.AppendUint32(nil, 5), "\x00\x01{]x"...), "malformed frame"},
		{"welcome from agent", encode(t, &Message{Type: TypeWelcome, Welcome: &Welcome{Node: "x"}}), "agents may not send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, err := f.client(t, f.ca, "node-bad")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.conn.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			_ = bad.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, err := ReadFrame(bad.conn, 0)
			if err != nil || m.Type != TypeError || !strings.Contains(m.Error, tc.want) {
				t.Fatalf("got %+v, %v; want error frame %q", m, err, tc.want)
			}
			if _, err := ReadFrame(bad.conn, 0); err == nil {
				t.Fatal("session still open")
			}
		})
	}
	// The good session still works end to end.
	other, err := f.client(t, f.ca, "node-other")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Send(&Message{Type: TypeSignal, ID: "x", To: "node-good"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-gmsgs:
		if m.From != "node-other" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("good session stopped working")
	}
	if got := testutil.ToFloat64(f.srv.metrics.frameErrors.WithLabelValues("too_large")); got != 2 {
		t.Errorf("too_large = %v", got)
	}
	_ = good.Close()
	<-gres
}

func encode(t *testing.T, m *Message) []byte {
	var b bytes.Buffer
	if err := WriteFrame(&b, m, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestClientFrameLimit: the agent side enforces its own limit, and Run reports a dead session.
func TestClientFrameLimit(t *testing.T) {
	srv, cli := net.Pipe()
	c := &Client{opts: ClientOptions{MaxFrameSize: 1024, PingInterval: time.Hour, WriteTimeout: time.Second}}
	c.conn = tls.Client(cli, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // never handshakes
	_ = srv.Close()
	if err := c.Run(context.Background(), func(*Message) {}); err == nil {
		t.Fatal("Run on a dead connection returned nil")
	}
	if _, err := ReadFrame(bytes.NewReader(binary.BigEndian.AppendUint32(nil, 2048)), 1024); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("ReadFrame = %v", err)
	}
}

// TestRateLimit: a session flooding signals gets error frames for the excess and stays up.
func TestRateLimit(t *testing.T) {
	ca, err := pki.NewCA("test", 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := ca.Issue(pki.CertSpec{CommonName: "relay", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	srv, err := NewServer(Options{
		SignalAddr: "127.0.0.1:0", TURNAddr: "127.0.0.1:0", Cert: kp.TLSCertificate(), Roots: ca.Pool(),
		SignalRate: 1, SignalBurst: 3, Logger: ktesting.NewLogger(t, ktesting.NewConfig()),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	f := &fixture{ca: ca, srv: srv}
	a, err := f.client(t, ca, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	msgs, res := run(a)
	for i := range 5 {
		if err := a.Send(&Message{Type: TypeSignal, ID: string(rune('0' + i)), To: "node-nobody"}); err != nil {
			t.Fatal(err)
		}
	}
	offline, limited := 0, 0
	for range 5 {
		m := <-msgs
		switch m.Error {
		case ErrPeerOffline.Error():
			offline++
		case ErrRateLimited.Error():
			limited++
		}
	}
	if offline != 3 || limited != 2 {
		t.Fatalf("offline %d, rate limited %d; want 3 and 2", offline, limited)
	}
	_ = a.Close()
	<-res
}
