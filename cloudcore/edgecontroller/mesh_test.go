package edgecontroller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/cloudcore/hub/hubtest"
	"github.com/outpostmesh/outpost/hubproto"
)

// updateNode writes node name (fetched, changed by mutate, given resourceVersion rv) and waits
// until the controller's cache has it.
func (f *fixture) updateNode(t *testing.T, name, rv string, mutate func(*corev1.Node)) {
	t.Helper()
	ctx := context.Background()
	n, err := f.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n = n.DeepCopy()
	mutate(n)
	n.ResourceVersion = rv
	if _, err := f.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cache sees node "+name+"@"+rv, func() bool {
		c, err := f.ctrl.nodes.Get(name)
		return err == nil && c.ResourceVersion == rv
	})
}

// updateSlice replaces web-abc with endpoints on nodes and waits for the snapshot to have it.
func (f *fixture) updateSlice(t *testing.T, rv string, nodes ...string) {
	t.Helper()
	if _, err := f.client.DiscoveryV1().EndpointSlices(ns).Update(context.Background(), webSlice(rv, nodes...), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitMesh(t, ref(resEndpointSlices, "web-abc"), rv)
}

// waitMesh waits until the snapshot holds ref at rv ("" : deleted).
func (f *fixture) waitMesh(t *testing.T, r hubproto.Ref, rv string) {
	t.Helper()
	eventually(t, fmt.Sprintf("snapshot has %v@%q", r, rv), func() bool {
		got, _, ok := f.ctrl.mesh.lookup(r)
		return (rv == "" && !ok) || (ok && got == rv)
	})
}

func heartbeat(n *corev1.Node) {
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now}}
	n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("img:%d", now.UnixNano())}})
}

func decodeNode(t *testing.T, ch hubproto.Change) *corev1.Node {
	t.Helper()
	var n corev1.Node
	if err := json.Unmarshal(ch.Object, &n); err != nil {
		t.Fatalf("node JSON %s: %v", ch.Object, err)
	}
	return &n
}

func TestMeshHeartbeatSendsNothingToOthers(t *testing.T) {
	f := start(t, tune{})
	e1, e2 := f.connect(t, "edge-1", nil), f.connect(t, "edge-2", nil)
	r1 := drain(t, e1, true, quiet)
	drain(t, e2, true, quiet)
	cloud := decodeNode(t, r1.last[ref(resNodes, "cloud-1")])
	if cloud.Labels["outpost.dev/site"] != "cloud" || len(cloud.Status.Addresses) != 1 || cloud.UID != "uid-cloud-1" ||
		len(cloud.Status.Images) != 0 || cloud.ResourceVersion != "1" {
		t.Errorf("pruned cloud-1 %s", r1.last[ref(resNodes, "cloud-1")].Object)
	}
	encoded := testutil.ToFloat64(f.ctrl.metrics.meshEncoded)

	// Heartbeats of a hosting node and of an edge node change nothing in the mesh share; the
	// edge's own Node still goes to that edge, whole.
	f.updateNode(t, "cloud-1", "5", heartbeat)
	f.updateNode(t, "edge-1", "6", heartbeat)
	r1, r2 := drain(t, e1, true, quiet), drain(t, e2, true, quiet)
	if len(r2.last) != 0 {
		t.Errorf("edge-2 got %v after heartbeats", keys(r2.last))
	}
	if c, ok := r1.last[ref(resNodes, "edge-1")]; len(r1.last) != 1 || !ok || c.ResourceVersion != "6" || len(decodeNode(t, c).Status.Conditions) != 1 {
		t.Errorf("edge-1 got %v, want only its own Node@6 whole", keys(r1.last))
	}
	if got := testutil.ToFloat64(f.ctrl.metrics.meshEncoded); got != encoded {
		t.Errorf("heartbeats encoded %v mesh objects", got-encoded)
	}

	// An address change is a change: every edge gets it, still pruned, at the new version.
	f.updateNode(t, "cloud-1", "7", func(n *corev1.Node) {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}}
	})
	for _, e := range []received{drain(t, e1, true, quiet), drain(t, e2, true, quiet)} {
		c, ok := e.last[ref(resNodes, "cloud-1")]
		if len(e.last) != 1 || !ok || c.ResourceVersion != "7" {
			t.Fatalf("after an address change got %v", keys(e.last))
		}
		if n := decodeNode(t, c); n.Status.Addresses[0].Address != "10.0.0.2" || len(n.Status.Conditions) != 0 || len(n.Status.Images) != 0 {
			t.Errorf("cloud-1 %s", c.Object)
		}
	}
}

func TestMeshNodeEntersAndLeavesWithItsEndpoints(t *testing.T) {
	f := start(t, tune{})
	e1, e2 := f.connect(t, "edge-1", nil), f.connect(t, "edge-2", nil)
	drain(t, e1, true, quiet)
	drain(t, e2, true, quiet)

	f.updateSlice(t, "32", "cloud-1", "edge-2")
	r1, r2 := drain(t, e1, true, quiet), drain(t, e2, true, quiet)
	if c := r1.last[ref(resNodes, "edge-2")]; len(r1.last) != 2 || c.Op != hubproto.OpUpsert || c.ResourceVersion != "1" {
		t.Fatalf("edge-1 got %v, want the slice and edge-2's Node", keys(r1.last))
	} else if n := decodeNode(t, c); len(n.Status.Conditions) != 0 || n.Labels[EdgeNodeLabel] != "" || !hasKey(n.Labels, EdgeNodeLabel) {
		t.Errorf("edge-2 as the mesh sees it: %s", c.Object)
	}
	// edge-2 holds its own Node whole already: the mesh does not send it a pruned copy.
	if len(r2.last) != 1 || r2.last[ref(resEndpointSlices, "web-abc")].ResourceVersion != "32" {
		t.Fatalf("edge-2 got %v, want the slice only", keys(r2.last))
	}

	f.updateSlice(t, "33", "cloud-1")
	r1, r2 = drain(t, e1, true, quiet), drain(t, e2, true, quiet)
	if c := r1.last[ref(resNodes, "edge-2")]; len(r1.last) != 2 || c.Op != hubproto.OpDelete {
		t.Fatalf("edge-1 got %v, want the slice and the delete of edge-2's Node", keys(r1.last))
	}
	if len(r2.last) != 1 {
		t.Fatalf("edge-2 got %v, want the slice only", keys(r2.last))
	}

	// A slice that goes away takes its hosts along.
	if err := f.client.DiscoveryV1().EndpointSlices(ns).Delete(context.Background(), "web-abc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitMesh(t, ref(resEndpointSlices, "web-abc"), "")
	r1 = drain(t, e1, true, quiet)
	if len(r1.last) != 2 || r1.last[ref(resNodes, "cloud-1")].Op != hubproto.OpDelete || r1.last[ref(resEndpointSlices, "web-abc")].Op != hubproto.OpDelete {
		t.Fatalf("after the slice was deleted edge-1 got %v", keys(r1.last))
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func TestMeshChangeEncodedOnceForAllEdges(t *testing.T) {
	f := start(t, tune{})
	var edges []string
	for i := range 12 {
		edges = append(edges, fmt.Sprintf("edge-x%d", i)) // no Node objects: the mesh share only
	}
	edges = append(edges, "edge-1", "edge-2")
	conns := map[string]*hubtest.Edge{}
	for _, n := range edges {
		conns[n] = f.connect(t, n, nil)
	}
	for _, n := range edges {
		drain(t, conns[n], true, quiet/3)
	}
	encoded := testutil.ToFloat64(f.ctrl.metrics.meshEncoded)
	svc := &corev1.Service{ObjectMeta: objMeta("api", "60")}
	if _, err := f.client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first []byte
	for i, n := range edges {
		q := quiet / 3
		if i == 0 {
			q = quiet
		}
		r := drain(t, conns[n], true, q)
		c, ok := r.last[ref(resServices, "api")]
		if len(r.last) != 1 || !ok || c.ResourceVersion != "60" || r.count[ref(resServices, "api")] != 1 {
			t.Fatalf("%s got %v", n, keys(r.last))
		}
		if first == nil {
			first = c.Object
		} else if string(first) != string(c.Object) {
			t.Errorf("%s got other bytes: %s", n, c.Object)
		}
	}
	if got := testutil.ToFloat64(f.ctrl.metrics.meshEncoded) - encoded; got != 1 {
		t.Errorf("one Service change encoded %v times for %d edges", got, len(edges))
	}
}

// apply is what an edge holding inv holds after r.
func apply(inv map[hubproto.Ref]string, r received) map[hubproto.Ref]string {
	out := maps.Clone(inv)
	for ref, c := range r.last {
		if c.Op == hubproto.OpDelete {
			delete(out, ref)
		} else {
			out[ref] = c.ResourceVersion
		}
	}
	return out
}

func inventoryMap(inv []hubproto.Held) map[hubproto.Ref]string {
	out := map[hubproto.Ref]string{}
	for _, h := range inv {
		out[h.Ref] = h.ResourceVersion
	}
	return out
}

func toInventory(m map[hubproto.Ref]string) []hubproto.Held {
	var out []hubproto.Held
	for r, rv := range m {
		out = append(out, hubproto.Held{Ref: r, ResourceVersion: rv})
	}
	return out
}

func refKeys(m map[hubproto.Ref]string) []string {
	var out []string
	for r, rv := range m {
		out = append(out, r.Resource+" "+r.Namespace+"/"+r.Name+"@"+rv)
	}
	slices.Sort(out)
	return out
}

func TestMeshCursorFallsBackToScan(t *testing.T) {
	f := start(t, tune{window: 1, batchChanges: 1, meshLogSize: 3})
	e := f.connect(t, "edge-1", nil)
	held := inventoryMap(drain(t, e, true, quiet).inventory())
	gen := f.ctrl.mesh.generation()

	// The edge takes one batch and acks nothing while seven changes pass a log of three.
	ctx := context.Background()
	for i := range 6 {
		svc := &corev1.Service{ObjectMeta: objMeta(fmt.Sprintf("api-%d", i), fmt.Sprint(70+i))}
		if _, err := f.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "seven mesh changes", func() bool { return f.ctrl.mesh.generation() >= gen+7 })
	r := drain(t, e, true, quiet)
	if got := testutil.ToFloat64(f.ctrl.metrics.meshFallbacks); got < 1 {
		t.Errorf("no fallback counted")
	}
	got := apply(held, r)
	want := maps.Clone(held)
	delete(want, ref(resServices, "web"))
	for i := range 6 {
		want[ref(resServices, fmt.Sprintf("api-%d", i))] = fmt.Sprint(70 + i)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("edge holds\n%v\nwant\n%v", refKeys(got), refKeys(want))
	}
	st := f.ctrl.lookup("edge-1")
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.meshCursor != f.ctrl.mesh.generation() || len(st.meshPending) != 0 {
		t.Errorf("cursor %d, generation %d, %d pending", st.meshCursor, f.ctrl.mesh.generation(), len(st.meshPending))
	}
}

func TestMeshReconnectConvergesExactly(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	held := inventoryMap(drain(t, e, true, quiet).inventory())
	e.Close()

	// While away: web goes, api comes, edge-2 starts hosting, cloud-1 only heartbeats.
	ctx := context.Background()
	if err := f.client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: objMeta("api", "60")}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitMesh(t, ref(resServices, "api"), "60")
	f.waitMesh(t, ref(resServices, "web"), "")
	f.updateSlice(t, "32", "cloud-1", "edge-2")
	f.updateNode(t, "cloud-1", "8", heartbeat)

	// The edge also holds mesh objects the cloud no longer has.
	inv := maps.Clone(held)
	inv[ref(resServices, "gone")] = "5"
	inv[ref(resNodes, "cloud-old")] = "3"
	r := drain(t, f.connect(t, "edge-1", toInventory(inv)), true, quiet)
	wantOps := map[hubproto.Ref]hubproto.Op{
		ref(resServices, "web"): hubproto.OpDelete, ref(resServices, "api"): hubproto.OpUpsert,
		ref(resEndpointSlices, "web-abc"): hubproto.OpUpsert, ref(resNodes, "edge-2"): hubproto.OpUpsert,
		ref(resServices, "gone"): hubproto.OpDelete, ref(resNodes, "cloud-old"): hubproto.OpDelete,
	}
	if len(r.last) != len(wantOps) {
		t.Errorf("reconnect got %v, want %d changes", keys(r.last), len(wantOps))
	}
	for rf, op := range wantOps {
		if c, ok := r.last[rf]; !ok || c.Op != op || r.count[rf] != 1 {
			t.Errorf("%v: got %+v (%d times), want %s once", rf, c.Ref, r.count[rf], op)
		}
	}
	got := apply(inv, r)
	want := maps.Clone(held)
	delete(want, ref(resServices, "web"))
	want[ref(resServices, "api")] = "60"
	want[ref(resEndpointSlices, "web-abc")] = "32"
	want[ref(resNodes, "edge-2")] = "1"
	if !maps.Equal(got, want) {
		t.Fatalf("edge holds\n%v\nwant\n%v", refKeys(got), refKeys(want))
	}
}

func TestMeshOwnNodeStaysWholeWhenItHosts(t *testing.T) {
	f := start(t, tune{})
	f.updateSlice(t, "32", "cloud-1", "edge-2")
	r := drain(t, f.connect(t, "edge-2", nil), true, quiet)
	c := r.last[ref(resNodes, "edge-2")]
	if r.count[ref(resNodes, "edge-2")] != 1 || len(decodeNode(t, c).Status.Conditions) != 1 {
		t.Fatalf("edge-2 got its Node %d times: %s", r.count[ref(resNodes, "edge-2")], c.Object)
	}
	// Its inventory names its Node once, at the own share's version: nothing to resend.
	r = drain(t, f.connect(t, "edge-2", r.inventory()), true, quiet)
	if len(r.last) != 0 {
		t.Fatalf("reconnect in sync got %v", keys(r.last))
	}
}

func TestMeshNodeVersionNeverGoesBack(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	// An event older than what a slice handler read from the cache (cloud-1@1): ignored, even
	// though its pruned form differs, since the edge store would skip it anyway and a later
	// version could then look older than what the edge holds.
	stale, err := f.ctrl.nodes.Get("cloud-1")
	if err != nil {
		t.Fatal(err)
	}
	stale = stale.DeepCopy()
	stale.ResourceVersion = "0"
	stale.Status.Addresses = nil
	f.ctrl.meshNode(stale, false)
	if rv, _, _ := f.ctrl.mesh.lookup(ref(resNodes, "cloud-1")); rv != "1" {
		t.Fatalf("snapshot has cloud-1@%s, want @1", rv)
	}
	if r := drain(t, e, true, quiet); len(r.last) != 0 {
		t.Fatalf("edge got %v", keys(r.last))
	}
}

func TestNewerRV(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"10", "9", true}, {"9", "10", false}, {"10", "10", false}, {"x", "y", true}, {"x", "x", false}, {"10", "", true}} {
		if got := newerRV(tc.a, tc.b); got != tc.want {
			t.Errorf("newerRV(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
