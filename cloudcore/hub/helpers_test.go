package hub

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/cloudcore/hub/hubtest"
	"github.com/outpostmesh/outpost/hubproto"
)

// event is one Handler call.
type event struct {
	kind    string // connected, acked, status, disconnected
	s       *Session
	hello   *hubproto.Hello
	seq     uint64
	updates []hubproto.StatusUpdate
	err     error
}

// recorder is a Handler that records calls on a channel.
type recorder struct{ events chan event }

func (r *recorder) Connected(s *Session, h *hubproto.Hello) {
	r.events <- event{kind: "connected", s: s, hello: h}
}
func (r *recorder) Acked(s *Session, seq uint64) { r.events <- event{kind: "acked", s: s, seq: seq} }
func (r *recorder) Status(s *Session, seq uint64, u []hubproto.StatusUpdate) {
	r.events <- event{kind: "status", s: s, seq: seq, updates: u}
}
func (r *recorder) Disconnected(s *Session, err error) {
	r.events <- event{kind: "disconnected", s: s, err: err}
}

func (r *recorder) next(t testing.TB, kind string) event {
	t.Helper()
	select {
	case e := <-r.events:
		if e.kind != kind {
			t.Fatalf("handler event %s (%v), want %s", e.kind, e.err, kind)
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event", kind)
	}
	return event{}
}

type fixture struct {
	pki *hubtest.PKI
	hub *Hub
	rec *recorder
	reg *prometheus.Registry
	url string
}

// startHub runs a hub on 127.0.0.1 until the test ends.
func startHub(t testing.TB, tune func(*Options)) *fixture {
	t.Helper()
	p := hubtest.NewPKI(t)
	rec := &recorder{events: make(chan event, 1000)}
	reg := prometheus.NewRegistry()
	opts := Options{
		Certificate: p.Server, ClientCAs: p.CA.Pool(), Handler: rec, Registerer: reg,
		Logger: ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2))),
	}
	if tune != nil {
		tune(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = h.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fixture{pki: p, hub: h, rec: rec, reg: reg, url: "wss://" + ln.Addr().String() + "/hub"}
}

// connect connects node and waits for the hub's Connected.
func (f *fixture) connect(t *testing.T, node string, inv []hubproto.Held) (*hubtest.Edge, *Session) {
	t.Helper()
	e, err := hubtest.Connect(context.Background(), f.url, f.pki.NodeTLS(t, node), node, inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ev := f.rec.next(t, "connected")
	if ev.s.Node() != node {
		t.Fatalf("connected %s, want %s", ev.s.Node(), node)
	}
	return e, ev.s
}

func (f *fixture) refusals(reason string) float64 {
	return testutil.ToFloat64(f.hub.metrics.refusals.WithLabelValues(reason))
}

func change(name, rv string) hubproto.Change {
	return hubproto.Change{
		Ref: hubproto.Ref{Resource: "/v1/configmaps", Namespace: "ns", Name: name},
		Op:  hubproto.OpUpsert, ResourceVersion: rv, Object: []byte(`{"metadata":{"name":"` + name + `"}}`),
	}
}

func hubtestConnect(t *testing.T, f *fixture, node string, inv []hubproto.Held) (*hubtest.Edge, error) {
	e, err := hubtest.Connect(context.Background(), f.url, f.pki.NodeTLS(t, node), node, inv)
	if err == nil {
		t.Cleanup(e.Close)
	}
	return e, err
}

func hubtestDialNoPong(t *testing.T, f *fixture, node string) (*hubtest.Edge, error) {
	e, err := hubtest.Dial(context.Background(), f.url, f.pki.NodeTLS(t, node), hubtest.DialOptions{NoPong: true})
	if err != nil {
		return nil, err
	}
	t.Cleanup(e.Close)
	return e, e.Write(&hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: node}})
}
