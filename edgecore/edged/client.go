package edged

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Sources list and watch what edged reads from the node's local API: its own pods, the own
// Node, and the ConfigMaps and Secrets those pods use. NewSources builds them on the
// metaserver; tests build them over a fake clientset.
type Sources struct {
	// Pods lists the pods bound to this node (field selector spec.nodeName).
	Pods cache.ListerWatcher
	// Nodes lists the own Node only (field selector metadata.name).
	Nodes cache.ListerWatcher
	// ConfigMaps and Secrets list every namespace: the metaserver holds only this node's share.
	ConfigMaps cache.ListerWatcher
	Secrets    cache.ListerWatcher
}

func (s Sources) complete() bool {
	return s.Pods != nil && s.Nodes != nil && s.ConfigMaps != nil && s.Secrets != nil
}

// coreScheme knows core/v1 and the meta/v1 list, watch and status types only. edged reads
// four core kinds; client-go's clientset, informer factory and kubernetes/scheme register
// every API group of Kubernetes (their type tables, conversions and defaulters cost several
// MiB of RSS in a process meant to stay small).
var coreScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	// AddToScheme also registers meta/v1 (ListOptions, WatchEvent, Status) for core/v1.
	if err := corev1.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("edged: core/v1 scheme: %v", err)) // static registration, cannot fail
	}
	return s
}()

// NewSources returns Sources over a core/v1-only REST client of the API at cfg (the
// metaserver: loopback, plain HTTP). cfg is copied; its Host, QPS, Burst and UserAgent are
// kept.
func NewSources(cfg *rest.Config, nodeName string) (Sources, error) {
	if cfg == nil || nodeName == "" {
		return Sources{}, fmt.Errorf("%w: sources need a rest.Config and a node name", ErrInvalidOptions)
	}
	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = serializer.NewCodecFactory(coreScheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return Sources{}, fmt.Errorf("edged: metaserver client: %w", err)
	}
	bySelector := func(resource string, sel fields.Selector) cache.ListerWatcher {
		return cache.NewFilteredListWatchFromClient(rc, resource, metav1.NamespaceAll, func(o *metav1.ListOptions) {
			if sel != nil {
				o.FieldSelector = sel.String()
			}
		})
	}
	return Sources{
		Pods:       bySelector("pods", fields.OneTermEqualSelector("spec.nodeName", nodeName)),
		Nodes:      bySelector("nodes", fields.OneTermEqualSelector("metadata.name", nodeName)),
		ConfigMaps: bySelector("configmaps", nil),
		Secrets:    bySelector("secrets", nil),
	}, nil
}

// informerSet is edged's four informers, built from Sources.
type informerSet struct {
	pods, nodes, cms, secrets cache.SharedIndexInformer
}

func newInformers(s Sources) (*informerSet, error) {
	nsIndex := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	mk := func(lw cache.ListerWatcher, obj runtime.Object, idx cache.Indexers) (cache.SharedIndexInformer, error) {
		inf := cache.NewSharedIndexInformerWithOptions(lw, obj, cache.SharedIndexInformerOptions{Indexers: idx})
		// managedFields are often the largest part of a stored object and edged never reads
		// them (status.go sends none either).
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return nil, fmt.Errorf("edged: informer transform: %w", err)
		}
		return inf, nil
	}
	var in informerSet
	var err error
	if in.pods, err = mk(s.Pods, &corev1.Pod{}, nsIndex); err != nil {
		return nil, err
	}
	if in.nodes, err = mk(s.Nodes, &corev1.Node{}, nil); err != nil {
		return nil, err
	}
	if in.cms, err = mk(s.ConfigMaps, &corev1.ConfigMap{}, nsIndex); err != nil {
		return nil, err
	}
	if in.secrets, err = mk(s.Secrets, &corev1.Secret{}, nsIndex); err != nil {
		return nil, err
	}
	return &in, nil
}

func (in *informerSet) all() []cache.SharedIndexInformer {
	return []cache.SharedIndexInformer{in.pods, in.nodes, in.cms, in.secrets}
}

// run starts the informers until ctx ends or the returned stop is called; stop waits for
// them.
func (in *informerSet) run(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, inf := range in.all() {
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}

// startInformers sets up the listers and starts the informers; the returned stop ends them
// and waits (Run calls it after ctx ended, tests at cleanup).
func (e *Edged) startInformers(ctx context.Context) (func(), error) {
	in, err := newInformers(e.o.Sources)
	if err != nil {
		return nil, err
	}
	e.pods = corelisters.NewPodLister(in.pods.GetIndexer())
	e.cms = corelisters.NewConfigMapLister(in.cms.GetIndexer())
	e.secrets = corelisters.NewSecretLister(in.secrets.GetIndexer())

	if _, err := in.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    e.enqueueObj,
		UpdateFunc: func(_, n any) { e.enqueueObj(n) },
		DeleteFunc: e.enqueueObj,
	}); err != nil {
		return nil, fmt.Errorf("edged: %w", err)
	}
	nsHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    e.enqueueNamespaceOf,
		UpdateFunc: func(_, n any) { e.enqueueNamespaceOf(n) },
		DeleteFunc: e.enqueueNamespaceOf,
	}
	for _, inf := range []cache.SharedIndexInformer{in.cms, in.secrets} {
		if _, err := inf.AddEventHandler(nsHandler); err != nil {
			return nil, fmt.Errorf("edged: %w", err)
		}
	}
	if _, err := in.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { e.nodeChanged(ctx, o) },
		UpdateFunc: func(_, n any) { e.nodeChanged(ctx, n) },
	}); err != nil {
		return nil, fmt.Errorf("edged: %w", err)
	}
	e.synced = nil
	for _, inf := range in.all() {
		e.synced = append(e.synced, inf.HasSynced)
	}
	stop := in.run(ctx)
	if !cache.WaitForNamedCacheSync("edged", ctx.Done(), e.synced...) {
		stop()
		return func() {}, fmt.Errorf("edged: caches not synced: %w", context.Cause(ctx))
	}
	e.listersReady.Store(true)
	return stop, nil
}

// stripManagedFields drops an object's managedFields before the informer stores it. The
// object is freshly decoded and not yet shared, so it is changed in place.
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
