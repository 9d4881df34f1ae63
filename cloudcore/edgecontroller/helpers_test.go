package edgecontroller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/cloudcore/hub/hubtest"
	"github.com/outpostmesh/outpost/hubproto"
)

const ns = "shop"

func objMeta(name, rv string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: rv, UID: types.UID("uid-" + name)}
}

func edgeNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1", Labels: map[string]string{EdgeNodeLabel: ""}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}}}
}

// world is the cluster of the tests: two edge nodes and a cloud node, a pod on each edge node
// with its own references.
func world() []runtime.Object {
	// cloud-1 hosts web's endpoint: it is in the mesh share, pruned.
	cloud := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cloud-1", ResourceVersion: "1", UID: "uid-cloud-1",
		Labels: map[string]string{"outpost.dev/site": "cloud"}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
			Images:    []corev1.ContainerImage{{Names: []string{"registry.invalid/app:1"}}},
		}}
	p1 := &corev1.Pod{ObjectMeta: objMeta("p1", "10"), Spec: corev1.PodSpec{
		NodeName:         "edge-1",
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}}}},
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s1"}}},
			{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-proj"}}}}}}},
		},
		Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s-env"}, Key: "k"}}}}}},
	}}
	p2 := &corev1.Pod{ObjectMeta: objMeta("p2", "11"), Spec: corev1.PodSpec{
		NodeName: "edge-2", ServiceAccountName: "robot",
		Containers: []corev1.Container{{Name: "app", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s2"}}}}}},
	}}
	pCloud := &corev1.Pod{ObjectMeta: objMeta("p-cloud", "12"), Spec: corev1.PodSpec{NodeName: "cloud-1",
		Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s-cloud"}}}}}}
	objs := []runtime.Object{edgeNode("edge-1"), edgeNode("edge-2"), cloud, p1, p2, pCloud,
		&corev1.ServiceAccount{ObjectMeta: objMeta("default", "20")},
		&corev1.ServiceAccount{ObjectMeta: objMeta("robot", "21")},
		&corev1.Service{ObjectMeta: objMeta("web", "30")},
		webSlice("31", "cloud-1"),
		&corev1.ConfigMap{ObjectMeta: objMeta("cm-unused", "40")},
	}
	for _, n := range []string{"cm1", "cm-proj"} {
		objs = append(objs, &corev1.ConfigMap{ObjectMeta: objMeta(n, "41")})
	}
	for _, n := range []string{"s1", "s-env", "pull", "s2", "s-cloud"} {
		objs = append(objs, &corev1.Secret{ObjectMeta: objMeta(n, "50")})
	}
	return objs
}

// webSlice is web's EndpointSlice with an endpoint on each of nodes.
func webSlice(rv string, nodes ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: objMeta("web-abc", rv), AddressType: discoveryv1.AddressTypeIPv4}
	s.Labels = map[string]string{discoveryv1.LabelServiceName: "web"}
	for i, n := range nodes {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.0.%d", i+1)}, NodeName: &n})
	}
	return s
}

type fixture struct {
	client *fake.Clientset
	ctrl   *Controller
	hub    *hub.Hub
	pki    *hubtest.PKI
	clock  *clocktesting.FakeClock
	url    string
}

type tune struct {
	window       int
	batchChanges int
	mesh         *bool
	meshLogSize  int
}

// start runs a controller and a hub on 127.0.0.1 over a fake clientset until the test ends.
func start(t *testing.T, tn tune) *fixture {
	t.Helper()
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	client := fake.NewClientset(world()...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(time.Now())
	ctrl, err := New(ctx, Options{
		Client: client, Informers: factory, Clock: clk, BatchChanges: tn.batchChanges,
		MeshObjects: tn.mesh, MeshLogSize: tn.meshLogSize, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := hubtest.NewPKI(t)
	h, err := hub.New(hub.Options{Certificate: p.Server, ClientCAs: p.CA.Pool(), Handler: ctrl, Logger: logger, Window: tn.window})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	factory.Start(ctx.Done())
	wg.Add(2)
	go func() { defer wg.Done(); _ = ctrl.Run(ctx, 2) }()
	go func() { defer wg.Done(); _ = h.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
	})
	for _, ok := range ctrl.synced {
		for !ok() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &fixture{client: client, ctrl: ctrl, hub: h, pki: p, clock: clk, url: "wss://" + ln.Addr().String() + "/hub"}
}

func (f *fixture) connect(t *testing.T, node string, inv []hubproto.Held) *hubtest.Edge {
	t.Helper()
	e, err := hubtest.Connect(context.Background(), f.url, f.pki.NodeTLS(t, node), node, inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// received is what an edge got: the last change per object, and the number of each.
type received struct {
	last    map[hubproto.Ref]hubproto.Change
	count   map[hubproto.Ref]int
	batches int
}

// drain reads sync frames until none comes for quiet, acknowledging them if ack.
func drain(t *testing.T, e *hubtest.Edge, ack bool, quiet time.Duration) received {
	t.Helper()
	r := received{last: map[hubproto.Ref]hubproto.Change{}, count: map[hubproto.Ref]int{}}
	for {
		f, err := e.ReadSync(quiet)
		if errors.Is(err, hubtest.ErrNoFrame) {
			return r
		}
		if err != nil {
			t.Fatalf("edge read: %v", err)
		}
		r.batches++
		for _, c := range f.Changes {
			r.last[c.Ref] = c
			r.count[c.Ref]++
		}
		if ack {
			if err := e.Ack(f.Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// inventory is what an edge holds after applying r.
func (r received) inventory() []hubproto.Held {
	var inv []hubproto.Held
	for ref, c := range r.last {
		if c.Op == hubproto.OpUpsert {
			inv = append(inv, hubproto.Held{Ref: ref, ResourceVersion: c.ResourceVersion})
		}
	}
	return inv
}

func ref(resource, name string) hubproto.Ref {
	r := hubproto.Ref{Resource: resource, Namespace: ns, Name: name}
	if resource == resNodes {
		r.Namespace = ""
	}
	return r
}

// eventually polls cond for 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func keys(m map[hubproto.Ref]hubproto.Change) []string {
	var out []string
	for r, c := range m {
		out = append(out, string(c.Op)+" "+r.Resource+" "+r.Namespace+"/"+r.Name)
	}
	return out
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
