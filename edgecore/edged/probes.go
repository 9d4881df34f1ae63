package edged

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/edged/prober"
)

// invalidProbes returns a status message naming the first invalid probe, or "".
func (e *Edged) invalidProbes(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		probes := []struct {
			kind prober.Kind
			p    *corev1.Probe
		}{{prober.Startup, c.StartupProbe}, {prober.Liveness, c.LivenessProbe}, {prober.Readiness, c.ReadinessProbe}}
		for _, p := range probes {
			if p.p == nil {
				continue
			}
			if err := prober.ValidateFor(p.kind, p.p); err != nil {
				return fmt.Sprintf("container %q: invalid %v", c.Name, err)
			}
			if err := prober.ValidatePorts(p.p, c.Ports); err != nil {
				return fmt.Sprintf("container %q: %s probe: %v", c.Name, p.kind, err)
			}
		}
	}
	return ""
}

// syncProbes hands the running containers to the prober.
func (e *Edged) syncProbes(pod *corev1.Pod, podIP string, running []runningContainer) {
	if e.o.Prober == nil {
		return
	}
	t := prober.Target{Pod: pod, PodIP: podIP}
	for _, r := range running {
		t.Containers = append(t.Containers, prober.ContainerTarget{Name: r.name, ID: r.id, StartedAt: r.startedAt})
	}
	e.o.Prober.Sync(t)
}

// consumeProbes turns probe results into syncs: a liveness or startup failure marks the
// container for a kill, a readiness change only needs a new status.
func (e *Edged) consumeProbes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r, ok := <-e.o.Prober.Results():
			if !ok {
				return
			}
			e.mu.Lock()
			st := e.state[r.PodUID]
			if st != nil && !r.Success && (r.Kind == prober.Liveness || r.Kind == prober.Startup) {
				st.kill[r.ContainerID] = fmt.Sprintf("%s probe failed: %s", r.Kind, r.Message)
			}
			e.mu.Unlock()
			if st != nil {
				e.queue.Add(st.key)
			}
		}
	}
}

// ready and started ask the prober; without one (or without the probe) a running container
// is both.
func (e *Edged) ready(pod *corev1.Pod, c *corev1.Container) bool {
	if e.o.Prober == nil || c.ReadinessProbe == nil {
		return e.started(pod, c)
	}
	return e.started(pod, c) && e.o.Prober.Ready(pod.UID, c.Name)
}

func (e *Edged) started(pod *corev1.Pod, c *corev1.Container) bool {
	if e.o.Prober == nil || c.StartupProbe == nil {
		return true
	}
	return e.o.Prober.Started(pod.UID, c.Name)
}

func klogRef(pod *corev1.Pod) klog.ObjectRef { return klog.KObj(pod) }
