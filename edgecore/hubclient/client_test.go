package hubclient

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHelloSyncAckAndReconnect(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	e := newEdge(t, func(o *Options) { o.Registerer = reg })
	if _, err := e.store.Apply(context.Background(), []metastore.Change{{Op: metastore.Upsert, Resource: podsR, Namespace: "ns", Name: "old", CloudRV: "5", Object: podObject("old", "5")}}); err != nil {
		t.Fatal(err)
	}
	e.start(t)

	s := e.hub.next(t)
	if s.node != "edge-1" || s.hello.Node != "edge-1" {
		t.Fatalf("session of %q, hello from %q", s.node, s.hello.Node)
	}
	if got := held(t, s.hello); len(got) != 1 || got["/v1/pods/ns/old"] != "5" {
		t.Fatalf("hello inventory %v, want the stored pod at rv 5", got)
	}

	batch := &hubproto.Frame{Type: hubproto.TypeSync, Seq: 1, Changes: []hubproto.Change{
		upsert("/v1/configmaps", "cfg", "7", cmObject("cfg", "7")),
		upsert("/v1/pods", "web", "8", podObject("web", "8")),
		{Ref: hubproto.Ref{Resource: "/v1/pods", Namespace: "ns", Name: "old"}, Op: hubproto.OpDelete, ResourceVersion: "9"},
	}}
	s.send(t, batch)
	wantAck(t, s, 1)
	if !has(t, e.store, cmR, "cfg") || !has(t, e.store, podsR, "web") || has(t, e.store, podsR, "old") {
		t.Fatal("the acknowledged batch is not in the store")
	}
	rev := e.store.Revision()

	// The cloud drops the connection: the edge comes back with its new inventory.
	s.mux.Close()
	s2 := e.hub.next(t)
	got := held(t, s2.hello)
	if len(got) != 2 || got["/v1/configmaps/ns/cfg"] != "7" || got["/v1/pods/ns/web"] != "8" {
		t.Fatalf("second hello inventory %v", got)
	}
	// A resent batch is acknowledged and changes nothing.
	s2.send(t, batch)
	wantAck(t, s2, 1)
	if e.store.Revision() != rev {
		t.Fatalf("replayed batch moved the store from revision %d to %d", rev, e.store.Revision())
	}
	if got := testutil.ToFloat64(e.client.metrics.sessions); got != 2 {
		t.Errorf("sessions_total %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.client.metrics.batches); got != 2 {
		t.Errorf("sync_batches_total %v, want 2", got)
	}
	if got := testutil.ToFloat64(e.client.metrics.applied); got != 3 {
		t.Errorf("sync_changes_applied_total %v, want 3 (the replay applies nothing)", got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
}

func TestMalformedFramesAreNotApplied(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, s *hubSession)
	}{
		{"not json", func(t *testing.T, s *hubSession) { s.sendRaw(t, "{{{") }},
		{"upsert without object", func(t *testing.T, s *hubSession) {
			s.sendRaw(t, `{"type":"sync","seq":1,"changes":[{"resource":"/v1/configmaps","namespace":"ns","name":"a","op":"upsert","rv":"1","object":{"metadata":{"name":"a","namespace":"ns"}}},{"resource":"/v1/pods","name":"p","op":"upsert"}]}`)
		}},
		{"bad resource", func(t *testing.T, s *hubSession) {
			s.send(t, &hubproto.Frame{Type: hubproto.TypeSync, Seq: 1, Changes: []hubproto.Change{
				upsert("/v1/configmaps", "a", "1", cmObject("a", "1")),
				upsert("pods", "p", "1", podObject("p", "1")),
			}})
		}},
		{"store refuses a change", func(t *testing.T, s *hubSession) {
			s.send(t, &hubproto.Frame{Type: hubproto.TypeSync, Seq: 1, Changes: []hubproto.Change{
				upsert("/v1/configmaps", "a", "1", cmObject("a", "1")),
				upsert("/v1/pods", "p", "1", podObject("another-name", "1")),
			}})
		}},
		{"status from the cloud", func(t *testing.T, s *hubSession) {
			s.send(t, &hubproto.Frame{Type: hubproto.TypeStatus, Seq: 1, Status: []hubproto.StatusUpdate{{Ref: hubproto.Ref{Resource: "/v1/nodes", Name: "n"}, Object: []byte(`{}`)}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, nil)
			e.start(t)
			s := e.hub.next(t)
			tt.send(t, s)
			f := s.recv(t)
			if f == nil || f.Type != hubproto.TypeError {
				t.Fatalf("edge answered %+v, want an error frame", f)
			}
			if f := s.recv(t); f != nil {
				t.Fatalf("edge sent %+v after the error, want the session closed", f)
			}
			if has(t, e.store, cmR, "a") || e.store.Revision() != 0 {
				t.Fatal("part of a malformed batch was applied")
			}
			// The edge comes back, and a good batch goes through.
			s2 := e.hub.next(t)
			s2.send(t, &hubproto.Frame{Type: hubproto.TypeSync, Seq: 1, Changes: []hubproto.Change{upsert("/v1/configmaps", "a", "1", cmObject("a", "1"))}})
			wantAck(t, s2, 1)
			if !has(t, e.store, cmR, "a") {
				t.Fatal("good batch after reconnect not applied")
			}
		})
	}
}

func TestStatusCoalescedWhileOfflineAndResent(t *testing.T) {
	e := newEdge(t, nil)
	ctx := context.Background()
	pod := func(name, phase string) hubproto.StatusUpdate {
		return hubproto.StatusUpdate{Ref: hubproto.Ref{Resource: "/v1/pods", Namespace: "ns", Name: name}, Object: []byte(`{"status":{"phase":"` + phase + `"}}`)}
	}
	// Offline: three updates of a, one of b.
	for _, u := range []hubproto.StatusUpdate{pod("a", "Pending"), pod("b", "Pending"), pod("a", "ContainerCreating"), pod("a", "Running")} {
		if err := e.client.SendStatus(ctx, []hubproto.StatusUpdate{u}); err != nil {
			t.Fatal(err)
		}
	}
	e.start(t)
	s := e.hub.next(t)
	f := s.recv(t)
	if f.Type != hubproto.TypeStatus || f.Seq != 1 || len(f.Status) != 2 ||
		f.Status[0].Name != "a" || string(f.Status[0].Object) != `{"status":{"phase":"Running"}}` || f.Status[1].Name != "b" {
		t.Fatalf("first status frame %+v, want a=Running then b", f)
	}
	s.send(t, &hubproto.Frame{Type: hubproto.TypeAck, Seq: 1})

	// c is sent but not acknowledged before the connection drops: it is sent again.
	if err := e.client.SendStatus(ctx, []hubproto.StatusUpdate{pod("c", "Running")}); err != nil {
		t.Fatal(err)
	}
	if f := s.recv(t); f.Type != hubproto.TypeStatus || f.Seq != 2 || f.Status[0].Name != "c" {
		t.Fatalf("second status frame %+v", f)
	}
	s.mux.Close()
	s2 := e.hub.next(t)
	if f := s2.recv(t); f.Type != hubproto.TypeStatus || f.Seq != 1 || len(f.Status) != 1 || f.Status[0].Name != "c" {
		t.Fatalf("after reconnect: %+v, want c again as seq 1", f)
	}
}

func TestStreamHandler(t *testing.T) {
	e := newEdge(t, func(o *Options) {
		o.StreamHandler = func(c net.Conn) { io.Copy(c, c) } // echo until closed
	})
	e.start(t)
	s := e.hub.next(t)
	st, err := s.mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	st.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(st, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
}

func TestCloseAndOptions(t *testing.T) {
	e := newEdge(t, nil)
	e.start(t)
	e.hub.next(t)
	for deadline := time.Now().Add(5 * time.Second); !e.client.Connected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not connected after hello")
		}
	}
	if err := e.client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := New(Options{HubURL: "https://x", NodeName: "n", TLSConfig: e.client.opts.TLSConfig, Store: e.store}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("https hub URL: %v", err)
	}
}

func TestAnswersHeartbeats(t *testing.T) {
	e := newEdge(t, nil)
	e.start(t)
	s := e.hub.next(t)
	if err := s.ws.WriteControl(websocket.PingMessage, []byte("hb-1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-e.hub.pongs:
		if got != "hb-1" {
			t.Fatalf("pong %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}
