package edged

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/edged/volume"
)

// Edged runs the node's pods.
type Edged struct {
	o       Options
	vol     *volume.Manager
	queue   workqueue.TypedRateLimitingInterface[string]
	restart *backoff // crash loop back-off per container
	pulls   *backoff // image pull back-off per image
	metrics *metrics

	pods    corelisters.PodLister
	cms     corelisters.ConfigMapLister
	secrets corelisters.SecretLister
	synced  []cache.InformerSynced
	// listersReady is set once the listers above are assigned and synced: the stream
	// server's resolver calls come from other goroutines and may arrive before.
	listersReady atomic.Bool

	mu       sync.Mutex
	state    map[types.UID]*podState
	podCIDR  string
	nodeIP   string
	relisted map[types.UID]string // fingerprint of each pod's CRI state at the last relist
	rtKeys   map[types.UID]string // namespace/name of each pod UID in the runtime, same relist
	rtReady  map[types.UID]bool   // pods with a ready sandbox, same relist (MaxPods)
	pullFail map[string]time.Time // last failed pull per image
}

// podState is what edged remembers of a pod between syncs; everything else comes from the
// store and the runtime.
type podState struct {
	key      string
	lastSent *corev1.PodStatus
	// kill holds container IDs a liveness or startup probe failed, with the message.
	kill map[string]string
	// final is a deleted pod's final status, kept until it is sent.
	final     *corev1.PodStatus
	finalized bool
}

// New returns an Edged; Run starts it.
func New(o Options) (*Edged, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Edged{
		o:        o,
		restart:  newBackoff(o.Clock, 10*time.Second, 5*time.Minute),
		pulls:    newBackoff(o.Clock, 10*time.Second, 5*time.Minute),
		metrics:  newMetrics(o.Registerer),
		state:    map[types.UID]*podState{},
		relisted: map[types.UID]string{},
		rtKeys:   map[types.UID]string{},
		pullFail: map[string]time.Time{},
		nodeIP:   o.NodeIP,
	}
	e.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "edged", Clock: o.Clock},
	)
	e.vol, err = volume.New(volume.Options{
		RootDir: o.RootDir, Objects: objectGetter{e}, Tokens: o.Tokens, Mounter: o.Mounter,
		Clock: o.Clock, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Runtime is the CRI runtime service, for the stream server.
func (e *Edged) Runtime() runtimeapi.RuntimeServiceClient { return e.o.Runtime }

// Run starts the informers and workers and returns when ctx ends, after the workers stop.
// Containers keep running: a restarted edged adopts them.
func (e *Edged) Run(ctx context.Context) error {
	defer e.queue.ShutDown()
	logger := e.o.Logger
	ctx = klog.NewContext(ctx, logger)

	var wg sync.WaitGroup
	defer wg.Wait()
	stop, err := e.startInformers(ctx)
	if err != nil {
		return err
	}
	defer stop()
	logger.Info("edged caches synced", "node", e.o.NodeName)
	e.relist(ctx) // before the workers: syncPod reads the runtime's pod UIDs from it
	e.cleanupVolumeDirs(ctx)

	for range e.o.Workers {
		wg.Go(func() { wait.UntilWithContext(ctx, e.runWorker, time.Second) })
	}
	wg.Go(func() { e.loop(ctx, e.o.RelistPeriod, e.relist) })
	wg.Go(func() { e.loop(ctx, e.o.SyncPeriod, func(context.Context) { e.enqueueAll() }) })
	if e.o.Prober != nil {
		wg.Go(func() { e.consumeProbes(ctx) })
	}
	<-ctx.Done()
	e.queue.ShutDown()
	return nil
}

// loop runs f now and every period until ctx ends.
func (e *Edged) loop(ctx context.Context, period time.Duration, f func(context.Context)) {
	t := e.o.Clock.NewTicker(period)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (e *Edged) runWorker(ctx context.Context) {
	for e.processNext(ctx) {
	}
}

func (e *Edged) processNext(ctx context.Context) bool {
	key, shutdown := e.queue.Get()
	if shutdown {
		return false
	}
	defer e.queue.Done(key)
	start := e.o.Clock.Now()
	err := e.syncPod(ctx, key)
	e.metrics.observeSync(err, e.o.Clock.Since(start))
	if err == nil {
		e.queue.Forget(key)
		return true
	}
	if ctx.Err() == nil {
		e.o.Logger.V(2).Info("pod sync failed, retrying", "pod", key, "err", err)
	}
	e.queue.AddRateLimited(key)
	return true
}

func (e *Edged) enqueueObj(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		e.queue.Add(key)
	}
}

// enqueueNamespaceOf queues every pod of a ConfigMap's or Secret's namespace: which pods use
// which object is cheap to find again in syncPod, and a namespace holds few pods on one node.
func (e *Edged) enqueueNamespaceOf(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(interface{ GetNamespace() string })
	if !ok {
		return
	}
	pods, _ := e.pods.Pods(m.GetNamespace()).List(labels.Everything())
	for _, p := range pods {
		e.enqueueObj(p)
	}
}

func (e *Edged) enqueueAll() {
	pods, _ := e.pods.List(labels.Everything())
	for _, p := range pods {
		e.enqueueObj(p)
	}
}

// nodeChanged takes the host IP and the podCIDR of the own Node.
func (e *Edged) nodeChanged(ctx context.Context, obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	e.mu.Lock()
	if e.o.NodeIP == "" {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				e.nodeIP = a.Address
				break
			}
		}
	}
	changed := n.Spec.PodCIDR != "" && n.Spec.PodCIDR != e.podCIDR
	if changed {
		e.podCIDR = n.Spec.PodCIDR
	}
	e.mu.Unlock()
	if changed && e.o.CNIConfDir != "" {
		if err := e.writeCNIConfig(n.Spec.PodCIDR); err != nil {
			e.o.Logger.Error(err, "writing CNI config", "podCIDR", n.Spec.PodCIDR)
		}
	}
}

func (e *Edged) hostIP() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nodeIP
}

// stateOf returns the pod's state, creating it.
func (e *Edged) stateOf(uid types.UID, key string) *podState {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.state[uid]
	if !ok {
		s = &podState{key: key, kill: map[string]string{}}
		e.state[uid] = s
	}
	return s
}

// forgetKey drops the state of earlier pods named key (all of them without keep).
func (e *Edged) forgetKey(key string, keep types.UID) {
	var gone []types.UID
	e.mu.Lock()
	for uid, s := range e.state {
		if s.key == key && uid != keep {
			gone = append(gone, uid)
		}
	}
	e.mu.Unlock()
	for _, uid := range gone {
		e.restart.reset(string(uid) + "/")
		e.forget(uid)
	}
}

func (e *Edged) forget(uid types.UID) {
	e.mu.Lock()
	delete(e.state, uid)
	e.mu.Unlock()
	if e.o.Prober != nil {
		e.o.Prober.Remove(uid)
	}
}

// objectGetter resolves volume objects from the informers' listers.
type objectGetter struct{ e *Edged }

func (g objectGetter) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return g.e.cms.ConfigMaps(ns).Get(name)
}

func (g objectGetter) Secret(ns, name string) (*corev1.Secret, error) {
	return g.e.secrets.Secrets(ns).Get(name)
}
