package edgecontroller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/hubproto"
)

const quiet = 300 * time.Millisecond

func TestNodeGetsItsShare(t *testing.T) {
	f := start(t, tune{})
	e1 := f.connect(t, "edge-1", nil)
	e2 := f.connect(t, "edge-2", nil)
	r1 := drain(t, e1, true, quiet)
	r2 := drain(t, e2, true, quiet)

	// The mesh share: every Service and EndpointSlice, and only the Nodes hosting an endpoint.
	mesh := []hubproto.Ref{ref(resNodes, "cloud-1"), ref(resServices, "web"), ref(resEndpointSlices, "web-abc")}
	want1 := append([]hubproto.Ref{ref(resNodes, "edge-1"), ref(resPods, "p1"), ref(resConfigMaps, "cm1"), ref(resConfigMaps, "cm-proj"),
		ref(resSecrets, "s1"), ref(resSecrets, "s-env"), ref(resSecrets, "pull"), ref(resAccounts, "default")}, mesh...)
	want2 := append([]hubproto.Ref{ref(resNodes, "edge-2"), ref(resPods, "p2"), ref(resSecrets, "s2"), ref(resAccounts, "robot")}, mesh...)
	for _, tc := range []struct {
		node string
		got  received
		want []hubproto.Ref
	}{{"edge-1", r1, want1}, {"edge-2", r2, want2}} {
		if len(tc.got.last) != len(tc.want) {
			t.Errorf("%s got %d objects, want %d: %v", tc.node, len(tc.got.last), len(tc.want), keys(tc.got.last))
		}
		for _, w := range tc.want {
			c, ok := tc.got.last[w]
			if !ok || c.Op != hubproto.OpUpsert || len(c.Object) == 0 {
				t.Errorf("%s lacks %v", tc.node, w)
			}
			if tc.got.count[w] != 1 {
				t.Errorf("%s got %v %d times", tc.node, w, tc.got.count[w])
			}
		}
	}
	// NodeRestriction: never another node's secret.
	for _, s := range []string{"s2", "s-cloud"} {
		if _, ok := r1.last[ref(resSecrets, s)]; ok {
			t.Errorf("edge-1 received secret %s", s)
		}
	}
	for _, s := range []string{"s1", "s-env", "pull", "s-cloud"} {
		if _, ok := r2.last[ref(resSecrets, s)]; ok {
			t.Errorf("edge-2 received secret %s", s)
		}
	}
	// Objects are self-describing.
	if obj := string(r1.last[ref(resPods, "p1")].Object); !containsAll(obj, `"kind":"Pod"`, `"apiVersion":"v1"`) {
		t.Errorf("pod JSON %s", obj)
	}
}

func TestMeshObjectsOff(t *testing.T) {
	off := false
	f := start(t, tune{mesh: &off})
	r := drain(t, f.connect(t, "edge-2", nil), true, quiet)
	if len(r.last) != 4 { // own node, p2, s2, robot
		t.Fatalf("got %v", keys(r.last))
	}
}

func TestWindowBoundsUnacked(t *testing.T) {
	f := start(t, tune{window: 2, batchChanges: 1})
	e := f.connect(t, "edge-1", nil)
	r := drain(t, e, false, quiet)
	if r.batches != 2 {
		t.Fatalf("a node that does not ack got %d batches, want 2", r.batches)
	}
	if err := e.Ack(1); err != nil {
		t.Fatal(err)
	}
	r = drain(t, e, false, quiet)
	if r.batches != 1 {
		t.Fatalf("after one ack got %d batches, want 1", r.batches)
	}
	// Acking everything from here on delivers the rest, each object once.
	for _, seq := range []uint64{2, 3} {
		if err := e.Ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	rest := drain(t, e, true, quiet)
	if total := 3 + len(rest.last); total != 11 {
		t.Fatalf("delivered %d objects, want 11", total)
	}
}

func TestReconnectSendsOnlyTheDifference(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	first := drain(t, e, true, quiet)
	e.Close()

	// While the edge is away: cm1 changes; the edge also holds a stale object.
	cm, _ := f.client.CoreV1().ConfigMaps(ns).Get(context.Background(), "cm1", metav1.GetOptions{})
	cm = cm.DeepCopy()
	cm.ResourceVersion = "99"
	if _, err := f.client.CoreV1().ConfigMaps(ns).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cache sees cm1@99", func() bool {
		c, err := f.ctrl.configMaps.ConfigMaps(ns).Get("cm1")
		return err == nil && c.ResourceVersion == "99"
	})
	inv := append(first.inventory(), hubproto.Held{Ref: ref(resConfigMaps, "gone"), ResourceVersion: "5"})
	r := drain(t, f.connect(t, "edge-1", inv), true, quiet)
	if len(r.last) != 2 {
		t.Fatalf("reconnect got %v, want cm1 and the delete of gone", keys(r.last))
	}
	if c := r.last[ref(resConfigMaps, "cm1")]; c.Op != hubproto.OpUpsert || c.ResourceVersion != "99" {
		t.Fatalf("cm1 change %+v", c)
	}
	if c := r.last[ref(resConfigMaps, "gone")]; c.Op != hubproto.OpDelete || c.ResourceVersion != "5" {
		t.Fatalf("gone change %+v", c)
	}
}

func TestUnackedIsResentAfterReconnect(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	first := drain(t, e, false, quiet) // never acked
	e.Close()
	second := drain(t, f.connect(t, "edge-1", nil), true, quiet)
	if len(second.last) != len(first.last) {
		t.Fatalf("resent %d objects, want %d", len(second.last), len(first.last))
	}
}

func TestDeletesPropagate(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	if err := f.client.CoreV1().Pods(ns).Delete(context.Background(), "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r := drain(t, e, true, quiet)
	for _, name := range []hubproto.Ref{ref(resPods, "p1"), ref(resConfigMaps, "cm1"), ref(resConfigMaps, "cm-proj"),
		ref(resSecrets, "s1"), ref(resSecrets, "s-env"), ref(resSecrets, "pull"), ref(resAccounts, "default")} {
		if c, ok := r.last[name]; !ok || c.Op != hubproto.OpDelete {
			t.Errorf("no delete of %v", name)
		}
	}
	if len(r.last) != 7 {
		t.Errorf("got %v", keys(r.last))
	}
	// A mesh change afterwards is sent once, alone.
	svc := &corev1.Service{ObjectMeta: objMeta("api", "60")}
	if _, err := f.client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = drain(t, e, true, quiet)
	if len(r.last) != 1 || r.count[ref(resServices, "api")] != 1 {
		t.Errorf("after a service was created got %v", keys(r.last))
	}
}

func TestNewSessionReplacesOld(t *testing.T) {
	f := start(t, tune{})
	e1 := f.connect(t, "edge-1", nil)
	first := drain(t, e1, false, quiet)
	e2 := f.connect(t, "edge-1", nil)
	if !e1.Closed(5 * time.Second) {
		t.Fatal("old session still open")
	}
	second := drain(t, e2, true, quiet)
	if len(second.last) != len(first.last) || len(second.last) != 11 {
		t.Fatalf("new session got %d objects, old %d, want 11", len(second.last), len(first.last))
	}
	st := f.ctrl.lookup("edge-1")
	eventually(t, "all acked", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		// held is the own share only (8 objects); the mesh share is a cursor.
		return len(st.held) == 8 && len(st.inflight) == 0 && st.meshCursor == f.ctrl.mesh.generation() && len(st.meshPending) == 0
	})
}
