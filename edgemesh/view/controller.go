package view

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// byService indexes EndpointSlices by "namespace/service".
const byService = "service"

// Options configure a Controller.
type Options struct {
	// Client is the Kubernetes API the view follows (the apiserver, or edgecore's metaserver).
	Client kubernetes.Interface
	// Store receives the view; NewStore() if nil.
	Store *Store
	// SnapshotPath is where the view is persisted; empty disables persistence.
	SnapshotPath string
	// SaveDelay batches bursts of changes into one write (default 500 ms).
	SaveDelay time.Duration
	// Resync is the informers' resync period (default 0: none).
	Resync time.Duration
	// Workers is the number of sync workers (default 2).
	Workers int
	// Logger receives the controller's logs.
	Logger klog.Logger
}

// Controller keeps a Store equal to the API's Services, EndpointSlices and Nodes, in the
// sample-controller shape: informers → typed workqueue of service keys → syncService.
type Controller struct {
	opts     Options
	store    *Store
	log      klog.Logger
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   cache.Indexer
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	apiSynced atomic.Bool
	loaded    bool
}

// NewController builds the controller and loads the snapshot (if any) into the store, so the
// view answers before — or without — the API.
func NewController(opts Options) (*Controller, error) {
	if opts.Client == nil {
		return nil, errors.New("view: Options.Client is required")
	}
	if opts.Store == nil {
		opts.Store = NewStore()
	}
	if opts.SaveDelay == 0 {
		opts.SaveDelay = 500 * time.Millisecond
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	c := &Controller{
		opts:  opts,
		store: opts.Store,
		log:   opts.Logger,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "services"}),
	}
	if opts.SnapshotPath != "" {
		snap, err := LoadSnapshot(opts.SnapshotPath)
		switch {
		case err == nil:
			c.store.Restore(snap)
			c.loaded = true
			c.log.Info("Loaded service view from disk", "path", opts.SnapshotPath, "services", len(snap.Services), "nodes", len(snap.Nodes))
		case errors.Is(err, ErrNoSnapshot):
		default:
			// A damaged file costs the offline start, nothing else: the API refills the view.
			c.log.Error(err, "Ignoring unreadable service view snapshot")
		}
	}
	c.factory = informers.NewSharedInformerFactory(opts.Client, opts.Resync)
	svcInf := c.factory.Core().V1().Services()
	sliceInf := c.factory.Discovery().V1().EndpointSlices()
	nodeInf := c.factory.Core().V1().Nodes()
	if err := sliceInf.Informer().AddIndexers(cache.Indexers{byService: sliceServiceKey}); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	c.services = svcInf.Lister()
	c.slices = sliceInf.Informer().GetIndexer()
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced, nodeInf.Informer().HasSynced}

	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	enqueueSlice := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if sl, ok := obj.(*discoveryv1.EndpointSlice); ok {
			if key, err := sliceServiceKey(sl); err == nil && len(key) == 1 {
				c.queue.Add(key[0])
			}
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if _, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueSlice, UpdateFunc: func(o, n any) { enqueueSlice(o); enqueueSlice(n) }, DeleteFunc: enqueueSlice,
	}); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.onNode(o, false) },
		UpdateFunc: func(_, n any) { c.onNode(n, false) },
		DeleteFunc: func(o any) { c.onNode(o, true) },
	}); err != nil {
		return nil, fmt.Errorf("view: %w", err)
	}
	return c, nil
}

func sliceServiceKey(obj any) ([]string, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := sl.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{sl.Namespace + "/" + name}, nil
}

func (c *Controller) onNode(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	if deleted {
		c.store.DeleteNode(n.Name)
		return
	}
	c.store.UpsertNode(NodeFromAPI(n))
}

// Store is the view the controller maintains.
func (c *Controller) Store() *Store { return c.store }

// Ready reports whether the view has content to serve: synced with the API once, or loaded
// from disk.
func (c *Controller) Ready() bool { return c.loaded || c.apiSynced.Load() }

// Synced reports whether the view has synced with the API since start.
func (c *Controller) Synced() bool { return c.apiSynced.Load() }

// Run follows the API until ctx is done. The API may be unreachable at start or for any time
// after: the view keeps serving what it has, and catches up when the API is back.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.queue.ShutDown()
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	if c.opts.SnapshotPath != "" {
		wg.Add(1)
		go func() { defer wg.Done(); c.saveLoop(ctx) }()
	}
	c.log.Info("Waiting for the API to sync the service view")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return ctx.Err()
	}
	c.reconcileAll()
	c.apiSynced.Store(true)
	c.log.Info("Service view synced with the API", "services", len(c.store.Services()))
	for i := 0; i < c.opts.Workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); wait.UntilWithContext(ctx, c.worker, time.Second) }()
	}
	<-ctx.Done()
	return nil
}

// reconcileAll queues every service the store or the API knows, so services deleted while the
// agent was away (present in the snapshot, absent in the API) are removed too; same for nodes.
func (c *Controller) reconcileAll() {
	for _, s := range c.store.Services() {
		c.queue.Add(s.Key())
	}
	svcs, _ := c.services.List(labels.Everything())
	for _, s := range svcs {
		c.queue.Add(s.Namespace + "/" + s.Name)
	}
	nodes, _ := c.factory.Core().V1().Nodes().Lister().List(labels.Everything())
	live := map[string]bool{}
	for _, n := range nodes {
		live[n.Name] = true
		c.store.UpsertNode(NodeFromAPI(n))
	}
	for _, n := range c.store.Nodes() {
		if !live[n.Name] {
			c.store.DeleteNode(n.Name)
		}
	}
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		if err := c.syncService(ctx, key); err != nil {
			c.log.Error(err, "Syncing service", "service", key)
			c.queue.AddRateLimited(key)
		} else {
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// syncService makes the store's copy of one service equal to the API's.
func (c *Controller) syncService(_ context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key cannot get better by retrying
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.store.Delete(ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	objs, err := c.slices.ByIndex(byService, key)
	if err != nil {
		return err
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
			slices = append(slices, sl)
		}
	}
	c.store.Upsert(FromAPI(svc, slices))
	return nil
}

// saveLoop writes the snapshot after changes, at most once per SaveDelay, and once at the end.
func (c *Controller) saveLoop(ctx context.Context) {
	_, saved := c.store.Changed()
	save := func() {
		_, gen := c.store.Changed()
		if gen == saved {
			return
		}
		if err := SaveSnapshot(c.opts.SnapshotPath, c.store.Snapshot()); err != nil {
			c.log.Error(err, "Saving service view")
			return
		}
		saved = gen
	}
	if !c.loaded {
		saved-- // write the first view even if nothing changes after it
	}
	for {
		ch, _ := c.store.Changed()
		select {
		case <-ctx.Done():
			save()
			return
		case <-ch:
		}
		select {
		case <-ctx.Done():
		case <-time.After(c.opts.SaveDelay):
		}
		save()
	}
}
