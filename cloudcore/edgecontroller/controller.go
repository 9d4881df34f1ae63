package edgecontroller

import (
	"context"
	"fmt"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Controller syncs edge nodes through the hub; it implements hub.Handler.
type Controller struct {
	client  kubernetes.Interface
	opts    Options
	clock   clock.WithTicker
	metrics *metrics
	logger  klog.Logger // for hub callbacks, which have no context

	nodes      corelisters.NodeLister
	pods       corelisters.PodLister
	podIndex   cache.Indexer
	configMaps corelisters.ConfigMapLister
	secrets    corelisters.SecretLister
	accounts   corelisters.ServiceAccountLister
	services   corelisters.ServiceLister
	slices     discoverylisters.EndpointSliceLister
	synced     []cache.InformerSynced

	// mesh is the mesh share every edge gets, encoded once (nil without MeshObjects).
	mesh *meshSnapshot

	// queue holds node names to sync their own share downstream; meshQueue node names whose
	// mesh share is behind the snapshot; statusQueue node names with status pending.
	queue       workqueue.TypedRateLimitingInterface[string]
	meshQueue   workqueue.TypedRateLimitingInterface[string]
	statusQueue workqueue.TypedRateLimitingInterface[string]

	mu      sync.Mutex
	state   map[string]*nodeState // by node name; created on the first session
	live    map[string]*nodeState // the nodes with a session: a mesh change queues each
	started time.Time             // disconnection time of nodes never seen since start
}

// New builds a Controller on opts.Informers (registering the informers it needs: start the
// factory after New) and returns it. Pass it to hub.Options.Handler and call Run.
func New(ctx context.Context, opts Options) (*Controller, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := opts.Informers
	podInf := f.Core().V1().Pods()
	c := &Controller{
		client:     opts.Client,
		opts:       opts,
		clock:      opts.Clock,
		metrics:    newMetrics(opts.Registerer),
		logger:     klog.FromContext(ctx).WithName("edgecontroller"),
		nodes:      f.Core().V1().Nodes().Lister(),
		pods:       podInf.Lister(),
		configMaps: f.Core().V1().ConfigMaps().Lister(),
		secrets:    f.Core().V1().Secrets().Lister(),
		accounts:   f.Core().V1().ServiceAccounts().Lister(),
		services:   f.Core().V1().Services().Lister(),
		slices:     f.Discovery().V1().EndpointSlices().Lister(),
		state:      make(map[string]*nodeState),
		live:       make(map[string]*nodeState),
		started:    opts.Clock.Now(),
	}
	if *opts.MeshObjects {
		c.mesh = newMeshSnapshot(opts.MeshLogSize)
	}
	if err := podInf.Informer().AddIndexers(cache.Indexers{podsByNode: indexPodsByNode}); err != nil {
		return nil, fmt.Errorf("edgecontroller: add pod index: %w", err)
	}
	c.podIndex = podInf.Informer().GetIndexer()
	c.queue = c.newQueue("edgecontroller-sync")
	c.meshQueue = c.newQueue("edgecontroller-mesh")
	c.statusQueue = c.newQueue("edgecontroller-status")
	if err := c.addHandlers(); err != nil {
		return nil, err
	}
	for _, inf := range []cache.SharedIndexInformer{
		f.Core().V1().Nodes().Informer(), podInf.Informer(), f.Core().V1().ConfigMaps().Informer(),
		f.Core().V1().Secrets().Informer(), f.Core().V1().ServiceAccounts().Informer(),
		f.Core().V1().Services().Informer(), f.Discovery().V1().EndpointSlices().Informer(),
	} {
		c.synced = append(c.synced, inf.HasSynced)
	}
	return c, nil
}

func (c *Controller) newQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: c.clock},
	)
}

// Run waits for the caches, runs workers for each queue (own shares, mesh shares, status)
// until ctx ends, then shuts the queues down and returns when the workers are gone.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx)
	var wg sync.WaitGroup
	defer func() {
		c.queue.ShutDown()
		c.meshQueue.ShutDown()
		c.statusQueue.ShutDown()
		wg.Wait()
	}()
	logger.Info("Starting edge controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("edgecontroller: caches did not sync: %w", ctx.Err())
	}
	if workers <= 0 {
		workers = 1
	}
	for range workers {
		for _, w := range []struct {
			q    workqueue.TypedRateLimitingInterface[string]
			sync func(context.Context, string) error
		}{{c.queue, c.syncNode}, {c.meshQueue, c.syncMesh}, {c.statusQueue, c.syncStatus}} {
			wg.Add(1)
			go func() { defer wg.Done(); wait.UntilWithContext(ctx, c.runWorker(w.q, w.sync), time.Second) }()
		}
	}
	logger.Info("Started workers", "count", workers)
	<-ctx.Done()
	logger.Info("Shutting down workers")
	return nil
}

// runWorker processes items of q with sync until q shuts down.
func (c *Controller) runWorker(q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) func(context.Context) {
	return func(ctx context.Context) {
		for c.processNext(ctx, q, sync) {
		}
	}
}

func (c *Controller) processNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	node, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(node)
	logger := klog.LoggerWithValues(klog.FromContext(ctx), "node", node)
	if err := sync(klog.NewContext(ctx, logger), node); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Sync failed, requeuing", "node", node)
		q.AddRateLimited(node)
		return true
	}
	q.Forget(node)
	return true
}
