package view

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func service(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: ports},
	}
}

func slice(ns, svc, name string, port int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   eps,
	}
}

func ep(ip, node string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To(node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
}

// waitFor polls cond for up to 5 s (bounded; informers deliver asynchronously).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func runController(t *testing.T, client kubernetes.Interface, path string) (*Controller, func()) {
	t.Helper()
	c, err := NewController(Options{Client: client, SnapshotPath: path, SaveDelay: 10 * time.Millisecond, Logger: klog.Background()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	return c, func() { cancel(); <-done }
}

func TestControllerFollowsAPIAndPersists(t *testing.T) {
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	client := fake.NewClientset(
		service("shop", "web", "10.96.0.10", http),
		slice("shop", "web", "web-1", 8080, ep("10.244.1.5", "edge-b1", true), ep("10.244.1.6", "edge-b1", false)),
		// An EndpointSlice naming a node nobody knows, and one for a service that does not exist.
		slice("shop", "web", "web-2", 8080, ep("10.244.2.7", "ghost", true)),
		slice("shop", "orphan", "orphan-1", 9000, ep("10.244.3.1", "edge-b1", true)),
		service("shop", "empty", "10.96.0.11", http),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-b1", Labels: map[string]string{SiteLabel: "b"}}},
	)
	path := filepath.Join(t.TempDir(), "view.json")
	c, stop := runController(t, client, path)
	waitFor(t, "sync", func() bool { return c.Synced() && len(c.Store().Services()) == 2 })

	s := c.Store()
	web, ok := s.Get("shop", "web")
	if !ok || len(web.Endpoints) != 3 || web.ClusterIPs[0] != netip.MustParseAddr("10.96.0.10") {
		t.Fatalf("web = %+v", web)
	}
	if web.Endpoints[0].Ports["http"] != 8080 || !web.Endpoints[0].Ready || web.Endpoints[1].Ready {
		t.Fatalf("endpoints = %+v", web.Endpoints)
	}
	if s.SiteOf("edge-b1") != "b" || s.SiteOf("ghost") != "" {
		t.Fatalf("sites: %q %q", s.SiteOf("edge-b1"), s.SiteOf("ghost"))
	}
	if !s.HasEndpointOnNode("edge-b1", netip.MustParseAddr("10.244.1.5"), 8080) || s.HasEndpointOnNode("edge-b1", netip.MustParseAddr("10.244.2.7"), 8080) {
		t.Fatal("HasEndpointOnNode wrong")
	}
	if d, ok := s.Service("shop", "empty"); !ok || len(d.ClusterIPs) != 1 {
		t.Fatal("DNS catalog lacks the service with no endpoints")
	}

	// Changes flow through: an endpoint update and a deletion.
	ctx := context.Background()
	_, err := client.DiscoveryV1().EndpointSlices("shop").Update(ctx, slice("shop", "web", "web-1", 8080, ep("10.244.1.5", "edge-b1", true)), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Services("shop").Delete(ctx, "empty", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "update", func() bool {
		w, _ := s.Get("shop", "web")
		_, gone := s.Get("shop", "empty")
		return len(w.Endpoints) == 2 && !gone
	})
	stop()

	// A restart with no API: the snapshot answers.
	unreachable, err := kubernetes.NewForConfig(&rest.Config{Host: "http://127.0.0.1:1", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c2, stop2 := runController(t, unreachable, path)
	defer stop2()
	if !c2.Ready() || c2.Synced() {
		t.Fatalf("offline restart: ready=%v synced=%v", c2.Ready(), c2.Synced())
	}
	w, ok := c2.Store().Get("shop", "web")
	if !ok || len(w.Endpoints) != 2 {
		t.Fatalf("offline view: %+v", w)
	}
	if _, ok := c2.Store().Service("shop", "empty"); ok {
		t.Fatal("a deleted service came back from disk")
	}
	if c2.Store().SiteOf("edge-b1") != "b" {
		t.Fatal("nodes not restored")
	}
}

func TestSnapshotBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSnapshot(filepath.Join(dir, "none")); err != ErrNoSnapshot {
		t.Fatalf("missing file: %v", err)
	}
	for name, content := range map[string]string{"garbage": "{not json", "version": `{"version":"other"}`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSnapshot(p); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
}
