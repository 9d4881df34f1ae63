package prober

import (
	"context"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

const defaultResultsBuffer = 64

// Manager owns one worker per probed container and kind.
type Manager struct {
	clock   clock.WithTicker
	log     klog.Logger
	run     *runner
	metrics *metrics
	results chan Result

	mu      sync.Mutex
	pods    map[types.UID]map[string]*container // by pod UID, then container name
	ctx     context.Context                     // set while Run runs
	stopped bool                                // Run returned: no new workers
	wg      sync.WaitGroup
}

// container is the probe state of one instance (one container ID).
type container struct {
	id           string
	hasReadiness bool
	hasStartup   bool
	ready        bool
	started      bool
	workers      []*worker
}

// New returns a Manager; its workers run while Run runs.
func New(o Options) *Manager {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	n := o.ResultsBuffer
	if n <= 0 {
		n = defaultResultsBuffer
	}
	return &Manager{
		clock:   o.Clock,
		log:     o.Logger,
		run:     newRunner(o.Exec, o.Dialer),
		metrics: newMetrics(o.Registerer),
		results: make(chan Result, n),
		pods:    map[types.UID]map[string]*container{},
	}
}

// Results delivers liveness and startup failures that reached their
// failureThreshold (Success=false), startup successes (Success=true) and
// readiness changes both ways. When the reader falls behind, the oldest
// result is dropped: a worker never blocks on it.
func (m *Manager) Results() <-chan Result { return m.results }

// Run starts the workers of the targets synced so far and of those synced
// later, and stops them all when ctx ends. It returns once every worker has
// returned; the Manager cannot be run again.
func (m *Manager) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.mu.Lock()
	if m.ctx != nil || m.stopped {
		m.mu.Unlock()
		return
	}
	m.ctx = ctx
	for _, cs := range m.pods {
		for _, c := range cs {
			for _, w := range c.workers {
				m.startLocked(w)
			}
		}
	}
	m.mu.Unlock()

	<-ctx.Done()
	m.mu.Lock()
	m.stopped = true
	m.ctx = nil
	m.mu.Unlock()
	m.wg.Wait()
}

// Sync makes the running containers of t the probed ones: a container that
// is new, or has a new ID, gets fresh workers (counters reset, initial delay
// from its StartedAt); a container no longer listed loses its workers.
func (m *Manager) Sync(t Target) {
	if t.Pod == nil {
		return
	}
	uid := t.Pod.UID
	running := make(map[string]ContainerTarget, len(t.Containers))
	for _, c := range t.Containers {
		running[c.Name] = c
	}
	var stopped []chan struct{}
	m.mu.Lock()
	cs := m.pods[uid]
	if cs == nil {
		cs = map[string]*container{}
		m.pods[uid] = cs
	}
	for name, c := range cs {
		if rc, ok := running[name]; !ok || rc.ID != c.id {
			stopped = append(stopped, stopLocked(c)...)
			if c.ready {
				m.emitLocked(Result{PodUID: uid, Container: name, ContainerID: c.id, Kind: Readiness, Message: "container stopped"})
			}
			delete(cs, name)
		}
	}
	for _, spec := range probedContainers(t.Pod) {
		rc, ok := running[spec.Name]
		if !ok || cs[spec.Name] != nil {
			continue
		}
		c := m.newContainer(uid, t.PodIP, spec, rc)
		cs[spec.Name] = c
		if c.ready {
			// No readiness or startup probe: ready as soon as it runs.
			m.emitLocked(Result{PodUID: uid, Container: spec.Name, ContainerID: rc.ID, Kind: Readiness, Success: true})
		}
		for _, w := range c.workers {
			m.startLocked(w)
		}
	}
	if len(cs) == 0 {
		delete(m.pods, uid)
	}
	m.mu.Unlock()
	stopWorkers(stopped)
}

// Remove stops every worker of the pod and forgets it. It returns once
// they have returned.
func (m *Manager) Remove(uid types.UID) {
	var stopped []chan struct{}
	m.mu.Lock()
	for _, c := range m.pods[uid] {
		stopped = append(stopped, stopLocked(c)...)
	}
	delete(m.pods, uid)
	m.mu.Unlock()
	stopWorkers(stopped)
}

// Ready reports the container's readiness: false until its readiness probe
// first succeeded, true without a readiness probe once it has started.
// Unknown containers are not ready.
func (m *Manager) Ready(uid types.UID, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.pods[uid][name]
	return c != nil && c.ready
}

// Started reports whether the container's startup probe passed (true when
// it has none). Unknown containers have not started.
func (m *Manager) Started(uid types.UID, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.pods[uid][name]
	return c != nil && c.started
}

// probedContainers lists the containers that can have probes: the regular
// ones and restartable (sidecar) init containers, as the kubelet does.
func probedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

func (m *Manager) newContainer(uid types.UID, podIP string, spec *corev1.Container, rc ContainerTarget) *container {
	c := &container{id: rc.ID, hasReadiness: spec.ReadinessProbe != nil, hasStartup: spec.StartupProbe != nil}
	c.started = !c.hasStartup
	c.ready = c.started && !c.hasReadiness
	for _, p := range []struct {
		kind  Kind
		probe *corev1.Probe
	}{{Startup, spec.StartupProbe}, {Liveness, spec.LivenessProbe}, {Readiness, spec.ReadinessProbe}} {
		if p.probe == nil {
			continue
		}
		if err := ValidateFor(p.kind, p.probe); err != nil {
			// The apiserver rejects such pods; one that slipped through
			// (static or hand-made) keeps its other probes, and an invalid
			// readiness probe leaves the container not ready.
			m.log.Error(err, "Not running invalid probe", "pod", uid, "container", spec.Name)
			continue
		}
		c.workers = append(c.workers, newWorker(m, c, workerTarget{
			uid: uid, container: spec.Name, id: rc.ID, kind: p.kind, startedAt: rc.StartedAt,
			podIP: podIP, ports: append([]corev1.ContainerPort(nil), spec.Ports...),
			probe: p.probe.DeepCopy(),
		}))
	}
	return c
}

// startLocked launches w if Run is running; otherwise Run launches it.
func (m *Manager) startLocked(w *worker) {
	if m.ctx == nil || w.launched || w.retired {
		return
	}
	w.launched = true
	ctx, cancel := context.WithCancel(m.ctx)
	w.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(w.done)
		defer cancel()
		w.run(ctx)
	}()
}

// stopLocked cancels the container's launched workers (an in-flight probe
// is cancelled with them) and returns what to wait on once m.mu is released:
// workers take m.mu to report.
func stopLocked(c *container) []chan struct{} {
	var done []chan struct{}
	for _, w := range c.workers {
		w.retired = true
		if w.launched {
			w.cancel()
			done = append(done, w.done)
		}
	}
	return done
}

func stopWorkers(done []chan struct{}) {
	for _, d := range done {
		<-d
	}
}

// emitLocked queues r without blocking: when the buffer is full the oldest
// result goes, since a newer result for the same container supersedes it
// and a worker must never wait for a slow reader.
func (m *Manager) emitLocked(r Result) {
	for range 2 {
		select {
		case m.results <- r:
			return
		default:
		}
		select {
		case old := <-m.results:
			m.log.V(2).Info("Probe results buffer full, dropping oldest", "pod", old.PodUID, "container", old.Container, "kind", old.Kind)
		default:
		}
	}
}
