package edgecontroller

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outpostmesh/outpost/hubproto"
)

func update(t *testing.T, resource, namespace, name string, obj any) hubproto.StatusUpdate {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return hubproto.StatusUpdate{Ref: hubproto.Ref{Resource: resource, Namespace: namespace, Name: name}, Object: b}
}

func TestStatusUpstream(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	ctx := context.Background()

	ready := corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "EdgeReady"}}}}
	running := corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	renew := metav1.NewMicroTime(time.Now().Truncate(time.Second))
	other := "edge-2"
	lease := coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: &other, RenewTime: &renew}}
	event := corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "p1"}, Reason: "Started"}
	updates := []hubproto.StatusUpdate{
		update(t, resNodes, "", "edge-1", ready),
		update(t, resPods, ns, "p1", running),
		update(t, resLeases, nodeLeaseNamespace, "edge-1", lease),
		update(t, resEvents, ns, "p1.1", event),
		// Refused: another node's pod, node, lease; an event about another node's pod; unknown.
		update(t, resPods, ns, "p2", running),
		update(t, resNodes, "", "edge-2", ready),
		update(t, resLeases, nodeLeaseNamespace, "edge-2", lease),
		update(t, resEvents, ns, "p2.1", corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "p2"}}),
		update(t, "/v1/secrets", ns, "s2", corev1.Secret{}),
		{Ref: hubproto.Ref{Resource: resPods, Namespace: ns, Name: "p1"}, Object: []byte(`[1,2]`)},
	}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: 1, Status: updates}); err != nil {
		t.Fatal(err)
	}
	fr, err := e.Read(5 * time.Second)
	if err != nil || fr.Type != hubproto.TypeAck || fr.Seq != 1 {
		t.Fatalf("edge read %+v, %v; want ack 1", fr, err)
	}

	n, _ := f.client.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
	if r := n.Status.Conditions[0]; r.Reason != "EdgeReady" {
		t.Errorf("edge-1 Ready condition %+v", r)
	}
	if n, _ := f.client.CoreV1().Nodes().Get(ctx, "edge-2", metav1.GetOptions{}); n.Status.Conditions[0].Reason != "KubeletReady" {
		t.Errorf("edge-2 status was written: %+v", n.Status.Conditions)
	}
	if p, _ := f.client.CoreV1().Pods(ns).Get(ctx, "p1", metav1.GetOptions{}); p.Status.Phase != corev1.PodRunning {
		t.Errorf("p1 phase %q", p.Status.Phase)
	}
	if p, _ := f.client.CoreV1().Pods(ns).Get(ctx, "p2", metav1.GetOptions{}); p.Status.Phase != "" {
		t.Errorf("p2 (edge-2's pod) phase written: %q", p.Status.Phase)
	}
	l, err := f.client.CoordinationV1().Leases(nodeLeaseNamespace).Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "edge-1" || !l.Spec.RenewTime.Equal(&renew) {
		t.Errorf("lease %+v, %v", l, err)
	}
	if _, err := f.client.CoordinationV1().Leases(nodeLeaseNamespace).Get(ctx, "edge-2", metav1.GetOptions{}); err == nil {
		t.Error("edge-2's lease was created")
	}
	if _, err := f.client.CoreV1().Events(ns).Get(ctx, "p1.1", metav1.GetOptions{}); err != nil {
		t.Errorf("event: %v", err)
	}
	for reason, want := range map[string]float64{"pod_of_other_node": 2, "other_node": 1, "other_lease": 1, "unsupported_resource": 1, "malformed_object": 1} {
		if got := testutil.ToFloat64(f.ctrl.metrics.refusals.WithLabelValues(reason)); got != want {
			t.Errorf("refusals{%s} = %v, want %v", reason, got, want)
		}
	}

	// The lease is updated in place on the next heartbeat; a replayed event is not an error.
	renew2 := metav1.NewMicroTime(renew.Add(10 * time.Second))
	lease.Spec.RenewTime = &renew2
	again := []hubproto.StatusUpdate{update(t, resLeases, nodeLeaseNamespace, "edge-1", lease), update(t, resEvents, ns, "p1.1", event)}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: 2, Status: again}); err != nil {
		t.Fatal(err)
	}
	if fr, err := e.Read(5 * time.Second); err != nil || fr.Seq != 2 {
		t.Fatalf("edge read %+v, %v; want ack 2", fr, err)
	}
	l, _ = f.client.CoordinationV1().Leases(nodeLeaseNamespace).Get(ctx, "edge-1", metav1.GetOptions{})
	if !l.Spec.RenewTime.Equal(&renew2) {
		t.Errorf("lease renew time %v, want %v", l.Spec.RenewTime, renew2)
	}
}

func readyOf(t *testing.T, f *fixture, node string) corev1.NodeCondition {
	t.Helper()
	n, err := f.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestDisconnectedNodeBecomesUnknown(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	e.Close()
	eventually(t, "disconnect seen", func() bool {
		st := f.ctrl.lookup("edge-1")
		st.mu.Lock()
		defer st.mu.Unlock()
		return !st.disconnectedAt.IsZero()
	})

	f.clock.Step(39 * time.Second)
	time.Sleep(200 * time.Millisecond)
	if r := readyOf(t, f, "edge-1"); r.Status != corev1.ConditionTrue {
		t.Fatalf("Ready before the grace period: %+v", r)
	}
	f.clock.Step(2 * time.Second)
	for _, node := range []string{"edge-1", "edge-2"} { // edge-2 never connected since start
		eventually(t, node+" Ready=Unknown", func() bool {
			r := readyOf(t, f, node)
			return r.Status == corev1.ConditionUnknown && r.Reason == reasonNodeUnknown && r.Message == messageNodeUnknown
		})
	}
	var marks int
	for _, a := range f.client.Actions() {
		if a.Matches("update", "nodes") && a.GetSubresource() == "status" {
			marks++
		}
	}
	if marks != 2 {
		t.Errorf("%d node status updates, want 2 (edge-1, edge-2)", marks)
	}
	if r := readyOf(t, f, "cloud-1"); r.Status != "" {
		t.Errorf("cloud node touched: %+v", r)
	}
	for _, node := range []string{"edge-1", "edge-2"} {
		n, _ := f.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if len(n.Spec.Taints) != 0 {
			t.Errorf("%s tainted: %v", node, n.Spec.Taints)
		}
	}
	if _, err := f.client.CoreV1().Pods(ns).Get(context.Background(), "p1", metav1.GetOptions{}); err != nil {
		t.Errorf("pod of the unknown node: %v", err)
	}

	// Back: its own status makes it Ready again.
	e = f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	ready := corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: 1, Status: []hubproto.StatusUpdate{update(t, resNodes, "", "edge-1", ready)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edge-1 Ready again", func() bool { return readyOf(t, f, "edge-1").Status == corev1.ConditionTrue })
}

func TestFinalizeDeletesThePod(t *testing.T) {
	f := start(t, tune{})
	e := f.connect(t, "edge-1", nil)
	drain(t, e, true, quiet)
	ctx := context.Background()
	// p1b's delete answers Conflict: the uid precondition failed, a newer pod of that name.
	p1b := &corev1.Pod{ObjectMeta: objMeta("p1b", "13"), Spec: corev1.PodSpec{NodeName: "edge-1"}}
	if _, err := f.client.CoreV1().Pods(ns).Create(ctx, p1b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cache sees p1b", func() bool { _, err := f.ctrl.pods.Pods(ns).Get("p1b"); return err == nil })
	drain(t, e, true, quiet) // p1b goes to edge-1
	f.client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() != "p1b" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("pods"), "p1b", errors.New("uid precondition failed"))
	})

	done := func(name, uid string) hubproto.StatusUpdate {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
		u := update(t, resPods, ns, name, p)
		u.Finalize = true
		return u
	}
	updates := []hubproto.StatusUpdate{done("p1", "uid-p1"), done("p1b", "uid-old"), done("p1", "")}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeStatus, Seq: 1, Status: updates}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // the deleted pod's share leaves edge-1 meanwhile
		fr, err := e.Read(5 * time.Second)
		if err != nil || i > 10 {
			t.Fatalf("edge read %+v, %v; want ack 1", fr, err)
		}
		if fr.Type == hubproto.TypeAck && fr.Seq == 1 {
			break
		}
	}
	var deletes []k8stesting.DeleteActionImpl
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && a.GetResource().Resource == "pods" {
			deletes = append(deletes, d)
		}
	}
	if len(deletes) != 2 {
		t.Fatalf("%d pod deletes, want 2 (p1, p1b): %+v", len(deletes), deletes)
	}
	for i, want := range []struct{ name, uid string }{{"p1", "uid-p1"}, {"p1b", "uid-old"}} {
		d, o := deletes[i], deletes[i].DeleteOptions
		if d.Name != want.name || o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != 0 ||
			o.Preconditions == nil || o.Preconditions.UID == nil || string(*o.Preconditions.UID) != want.uid {
			t.Errorf("delete %d: %s with %+v, want %s, grace 0, uid %s", i, d.Name, o, want.name, want.uid)
		}
	}
	if _, err := f.client.CoreV1().Pods(ns).Get(ctx, "p1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("p1 still there: %v", err)
	}
	// The conflict is success; a finalize without uid is refused (the pod is gone by then, so
	// it is refused as not found or malformed: either way acknowledged, nothing deleted).
	if got := testutil.ToFloat64(f.ctrl.metrics.status.WithLabelValues(resPods)); got != 2 {
		t.Errorf("applied pod updates %v, want 2", got)
	}
	if got := testutil.ToFloat64(f.ctrl.metrics.refusals.WithLabelValues("malformed_object")) +
		testutil.ToFloat64(f.ctrl.metrics.refusals.WithLabelValues("not_found")); got != 1 {
		t.Errorf("refusals %v, want 1", got)
	}
}
