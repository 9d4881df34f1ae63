package metaserver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// recorder records informer notifications as "ADD ns/name", "UPDATE ...",
// "DELETE ...".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(kind string, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %s/%s", kind, m.GetNamespace(), m.GetName()))
}

func (r *recorder) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.add("ADD", o) },
		UpdateFunc: func(_, o any) { r.add("UPDATE", o) },
		DeleteFunc: func(o any) { r.add("DELETE", o) },
	}
}

func (r *recorder) has(ev string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e == ev {
			return true
		}
	}
	return false
}

// informers starts a SharedInformerFactory with Services, EndpointSlices,
// Nodes and Pods informers, stopped at the end of the test.
type informerSet struct {
	factory                informers.SharedInformerFactory
	pods, svcs, nodes, eps *recorder
	cancel                 context.CancelFunc
}

func startInformers(t *testing.T, cs kubernetes.Interface) *informerSet {
	t.Helper()
	s := &informerSet{
		factory: informers.NewSharedInformerFactory(cs, 0),
		pods:    &recorder{}, svcs: &recorder{}, nodes: &recorder{}, eps: &recorder{},
	}
	s.factory.Core().V1().Pods().Informer().AddEventHandler(s.pods.handler())
	s.factory.Core().V1().Services().Informer().AddEventHandler(s.svcs.handler())
	s.factory.Core().V1().Nodes().Informer().AddEventHandler(s.nodes.handler())
	s.factory.Discovery().V1().EndpointSlices().Informer().AddEventHandler(s.eps.handler())
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		s.factory.Shutdown()
	})
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	for typ, ok := range s.factory.WaitForCacheSync(sctx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	return s
}

// TestInformers runs a SharedInformerFactory against the metaserver: the
// initial state, then adds, updates and deletes applied to the store.
func TestInformers(t *testing.T) {
	e := startEnv(t, "", "", metastoreOpts(), Options{BookmarkInterval: 100 * time.Millisecond})
	e.apply(
		pod("shop", "web-1", "10", "edge-1", `"app":"web"`),
		service("shop", "web", "11", "10.96.0.10"),
		slice("shop", "web-abc", "web", "12", "10.1.0.7"),
		node("edge-1", "13", false),
	)
	inf := startInformers(t, e.cs)
	for rec, ev := range map[*recorder]string{inf.pods: "ADD shop/web-1", inf.svcs: "ADD shop/web",
		inf.eps: "ADD shop/web-abc", inf.nodes: "ADD /edge-1"} {
		eventually(t, "initial "+ev, func() bool { return rec.has(ev) })
	}

	e.apply(
		pod("shop", "web-2", "20", "edge-1", `"app":"web"`),
		service("shop", "web", "21", "10.96.0.11"),
		slice("shop", "web-abc", "web", "22", "10.1.0.8"),
		node("edge-2", "23", false),
		del(podsR, "shop", "web-1", "24"),
	)
	eventually(t, "informer events", func() bool {
		return inf.pods.has("ADD shop/web-2") && inf.pods.has("DELETE shop/web-1") &&
			inf.svcs.has("UPDATE shop/web") && inf.eps.has("UPDATE shop/web-abc") && inf.nodes.has("ADD /edge-2")
	})
	svc, err := inf.factory.Core().V1().Services().Lister().Services("shop").Get("web")
	if err != nil || svc.Spec.ClusterIP != "10.96.0.11" {
		t.Fatalf("lister service = %+v, %v", svc, err)
	}
	es, err := inf.factory.Discovery().V1().EndpointSlices().Lister().EndpointSlices("shop").
		List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: "web"}))
	if err != nil || len(es) != 1 || es[0].Endpoints[0].Addresses[0] != "10.1.0.8" {
		t.Fatalf("lister slices = %+v, %v", es, err)
	}
	pods, _ := inf.factory.Core().V1().Pods().Lister().List(labels.Everything())
	if len(pods) != 1 || pods[0].Name != "web-2" {
		t.Fatalf("lister pods = %v", podNames(pods))
	}
	// A replayed (older) change does not reach the informer.
	e.apply(service("shop", "web", "11", "10.96.0.10"))
	time.Sleep(200 * time.Millisecond)
	if svc, _ := inf.factory.Core().V1().Services().Lister().Services("shop").Get("web"); svc.Spec.ClusterIP != "10.96.0.11" {
		t.Fatalf("an older cloud version reached the informer: %s", svc.Spec.ClusterIP)
	}
}

func podNames(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}
