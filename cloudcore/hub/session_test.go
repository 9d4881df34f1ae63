package hub

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpostmesh/outpost/hubproto"
)

func TestSessionConversation(t *testing.T) {
	f := startHub(t, nil)
	inv := []hubproto.Held{{Ref: hubproto.Ref{Resource: "/v1/pods", Namespace: "ns", Name: "p"}, ResourceVersion: "7"}}
	e, err := hubtestConnect(t, f, "edge-1", inv)
	if err != nil {
		t.Fatal(err)
	}
	ev := f.rec.next(t, "connected")
	s := ev.s
	if len(ev.hello.Inventory) != 1 || ev.hello.Inventory[0].ResourceVersion != "7" {
		t.Fatalf("hello inventory %+v", ev.hello.Inventory)
	}
	if got := f.hub.Connected(); len(got) != 1 || got[0] != "edge-1" {
		t.Fatalf("Connected() = %v", got)
	}

	// Downstream: a batch, its ack.
	seq, err := s.Send(context.Background(), []hubproto.Change{change("a", "1")})
	if err != nil || seq != 1 {
		t.Fatalf("Send = %d, %v", seq, err)
	}
	fr, err := e.ReadSync(5 * time.Second)
	if err != nil || fr.Seq != 1 || fr.Changes[0].Name != "a" {
		t.Fatalf("edge read %+v, %v", fr, err)
	}
	if err := e.Ack(1); err != nil {
		t.Fatal(err)
	}
	if ev := f.rec.next(t, "acked"); ev.seq != 1 {
		t.Fatalf("acked %d", ev.seq)
	}

	// Upstream: a status frame, acked by the handler.
	st := []hubproto.StatusUpdate{{Ref: hubproto.Ref{Resource: "/v1/nodes", Name: "edge-1"}, Object: []byte(`{}`)}}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: 1, Status: st}); err != nil {
		t.Fatal(err)
	}
	ev = f.rec.next(t, "status")
	if ev.seq != 1 || len(ev.updates) != 1 {
		t.Fatalf("status event %+v", ev)
	}
	if err := s.AckStatus(1); err != nil {
		t.Fatal(err)
	}
	fr, err = e.Read(5 * time.Second)
	if err != nil || fr.Type != hubproto.TypeAck || fr.Seq != 1 {
		t.Fatalf("edge read %+v, %v", fr, err)
	}

	// Reverse tunnel: the cloud opens a stream, the edge echoes.
	go func() {
		c, err := e.Mux.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	c, err := f.hub.OpenStream(context.Background(), "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	c.Close()
	if _, err := f.hub.OpenStream(context.Background(), "edge-2"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("OpenStream(edge-2) = %v, want ErrNotConnected", err)
	}

	e.Close()
	f.rec.next(t, "disconnected")
	if got := f.hub.Connected(); len(got) != 0 {
		t.Fatalf("Connected() after close = %v", got)
	}
	if _, err := s.TrySend([]hubproto.Change{change("b", "2")}); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("TrySend after close = %v", err)
	}
	if n := testutil.ToFloat64(f.hub.metrics.connected); n != 0 {
		t.Fatalf("connected gauge %v", n)
	}
}

func TestWindow(t *testing.T) {
	f := startHub(t, func(o *Options) { o.Window = 3 })
	e, s := f.connect(t, "edge-1", nil)
	for i := range 3 {
		if _, err := s.TrySend([]hubproto.Change{change("a", "1")}); err != nil {
			t.Fatalf("TrySend %d: %v", i, err)
		}
	}
	if _, err := s.TrySend([]hubproto.Change{change("a", "1")}); !errors.Is(err, ErrWindowFull) {
		t.Fatalf("4th TrySend = %v, want ErrWindowFull", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Send(ctx, []hubproto.Change{change("a", "1")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked Send = %v", err)
	}
	if got := testutil.ToFloat64(f.hub.metrics.unacked); got != 3 {
		t.Fatalf("unacked gauge %v", got)
	}
	for range 3 {
		if _, err := e.ReadSync(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Acking an unknown seq changes nothing; acking 2 frees one slot.
	if err := e.Ack(99); err != nil {
		t.Fatal(err)
	}
	if err := e.Ack(2); err != nil {
		t.Fatal(err)
	}
	f.rec.next(t, "acked")
	if seq, err := s.TrySend([]hubproto.Change{change("a", "1")}); err != nil || seq != 4 {
		t.Fatalf("TrySend after ack = %d, %v", seq, err)
	}
	if _, err := s.TrySend([]hubproto.Change{change("a", "1")}); !errors.Is(err, ErrWindowFull) {
		t.Fatalf("TrySend = %v, want ErrWindowFull", err)
	}
}

func TestReplace(t *testing.T) {
	f := startHub(t, nil)
	e1, s1 := f.connect(t, "edge-1", nil)
	e2, err := hubtestConnect(t, f, "edge-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = e2
	// The new session's Connected and the old one's Disconnected may come in either order.
	var s2 *Session
	for range 2 {
		select {
		case ev := <-f.rec.events:
			switch ev.kind {
			case "connected":
				s2 = ev.s
			case "disconnected":
				if ev.s != s1 || !errors.Is(ev.err, errReplaced) {
					t.Fatalf("disconnected %p (%v), want the first session replaced", ev.s, ev.err)
				}
			default:
				t.Fatalf("unexpected %s", ev.kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
	if !e1.Closed(5 * time.Second) {
		t.Fatal("first edge still connected")
	}
	if s2 == nil || f.hub.Session("edge-1") != s2 {
		t.Fatal("second session not current")
	}
	if got := testutil.ToFloat64(f.hub.metrics.connected); got != 1 {
		t.Fatalf("connected gauge %v", got)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	f := startHub(t, func(o *Options) { o.PingPeriod = 30 * time.Millisecond; o.PongTimeout = 100 * time.Millisecond })
	_, s := f.connect(t, "quiet", nil)
	good, _ := f.connect(t, "good", nil)
	_ = good
	_ = s
	e, err := hubtestDialNoPong(t, f, "deaf")
	if err != nil {
		t.Fatal(err)
	}
	f.rec.next(t, "connected")
	if !e.Closed(5 * time.Second) {
		t.Fatal("deaf edge not closed")
	}
	ev := f.rec.next(t, "disconnected")
	if ev.s.Node() != "deaf" || !errors.Is(ev.err, errHeartbeat) {
		t.Fatalf("disconnected %s: %v", ev.s.Node(), ev.err)
	}
	if f.refusals(reasonHeartbeat) != 1 {
		t.Fatal("heartbeat refusal not counted")
	}
	if got := f.hub.Connected(); len(got) != 2 {
		t.Fatalf("Connected() = %v, the answering edges must stay", got)
	}
}
