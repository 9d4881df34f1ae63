package prober

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Kubernetes' defaults for probe fields left at zero.
const (
	defaultPeriod           = 10 * time.Second
	defaultTimeout          = time.Second
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// workerTarget is everything a worker needs to run its probe, copied at
// creation so the worker never reads the caller's pod.
type workerTarget struct {
	uid       types.UID
	container string
	id        string
	kind      Kind
	startedAt time.Time
	podIP     string
	ports     []corev1.ContainerPort
	probe     *corev1.Probe
}

// worker runs one probe of one container instance. Fields below the line
// are owned by Manager.mu; the counters by the worker goroutine.
type worker struct {
	m *Manager
	c *container
	t workerTarget

	launched bool
	retired  bool
	cancel   context.CancelFunc
	done     chan struct{}

	haveLast bool
	last     bool
	streak   int32
}

func newWorker(m *Manager, c *container, t workerTarget) *worker {
	return &worker{m: m, c: c, t: t, done: make(chan struct{})}
}

func (w *worker) run(ctx context.Context) {
	p := w.t.probe
	log := w.m.log.WithValues("pod", w.t.uid, "container", w.t.container, "kind", w.t.kind)
	log.V(4).Info("Probe worker started")
	defer log.V(4).Info("Probe worker stopped")

	delay := time.Duration(p.InitialDelaySeconds) * time.Second
	if wait := w.t.startedAt.Add(delay).Sub(w.m.clock.Now()); wait > 0 {
		t := w.m.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
	// The ticker exists before the first probe so a tick during a slow
	// probe is held, not lost.
	tk := w.m.clock.NewTicker(orDefault(p.PeriodSeconds, defaultPeriod))
	defer tk.Stop()
	for w.once(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-tk.C():
		}
	}
}

// once runs the probe if it is due and reports whether to keep going.
func (w *worker) once(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if w.t.kind != Startup && !w.m.startedOf(w.c) {
		// Liveness and readiness wait for the startup probe; not counted.
		return true
	}
	p := w.t.probe
	pctx, cancel := context.WithTimeout(ctx, orDefault(p.TimeoutSeconds, defaultTimeout))
	ok, msg := w.m.run.probe(pctx, &w.t)
	cancel()
	if ctx.Err() != nil {
		return false // stopped mid-probe: the outcome means nothing
	}
	w.m.metrics.observe(w.t.kind, ok)
	if !ok {
		w.m.log.V(2).Info("Probe failed", "pod", w.t.uid, "container", w.t.container, "kind", w.t.kind, "message", msg)
	}
	if w.haveLast && ok == w.last {
		w.streak++
	} else {
		w.haveLast, w.last, w.streak = true, ok, 1
	}
	threshold := p.FailureThreshold
	if threshold <= 0 {
		threshold = defaultFailureThreshold
	}
	if ok {
		threshold = max(p.SuccessThreshold, defaultSuccessThreshold)
	}
	if w.streak < threshold {
		return true
	}
	return w.m.report(w, ok, msg)
}

// report records a probe outcome that reached its threshold and says
// whether the worker goes on: liveness and startup workers stop after a
// failure (the container is to be restarted, which brings a new ID and new
// workers), and the startup worker stops once it succeeded.
func (m *Manager) report(w *worker, ok bool, msg string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w.retired {
		return false
	}
	c, t := w.c, &w.t
	r := Result{PodUID: t.uid, Container: t.container, ContainerID: t.id, Kind: t.kind, Success: ok, Message: msg}
	switch t.kind {
	case Liveness:
		if !ok {
			m.emitLocked(r)
		}
		return ok
	case Startup:
		if ok {
			c.started = true
			m.emitLocked(r)
			if !c.hasReadiness {
				c.ready = true
				m.emitLocked(Result{PodUID: t.uid, Container: t.container, ContainerID: t.id, Kind: Readiness, Success: true})
			}
		} else {
			m.emitLocked(r)
		}
		return false
	default:
		if c.ready != ok {
			c.ready = ok
			m.emitLocked(r)
		}
		return true
	}
}

func (m *Manager) startedOf(c *container) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return c.started
}

func orDefault(seconds int32, def time.Duration) time.Duration {
	if seconds <= 0 {
		return def
	}
	return time.Duration(seconds) * time.Second
}
