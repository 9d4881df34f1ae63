package edged

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/volume"
)

// syncResult is what one sync learned that the runtime does not record.
type syncResult struct {
	waits   map[string]*waiting // by container name
	message string              // pod-level problem (missing object, invalid probe)
	requeue time.Duration       // sync again after this (back-off expiry); 0: no need
}

func (r *syncResult) after(d time.Duration) {
	if r.requeue == 0 || d < r.requeue {
		r.requeue = d
	}
}

// syncPod makes the runtime match the pod stored under key and reports its status.
func (e *Edged) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key never becomes valid
	}
	pod, err := e.pods.Pods(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if pod != nil && pod.Spec.NodeName != e.o.NodeName {
		pod = nil
	}
	// Older incarnations of the name (deleted while we were offline, recreated): gone.
	for _, uid := range e.runtimeUIDs(key) {
		if pod == nil || uid != pod.UID {
			if err := e.killUID(ctx, uid); err != nil {
				return err
			}
		}
	}
	if pod == nil {
		e.forgetKey(key, "")
		return nil
	}
	e.forgetKey(key, pod.UID)
	st := e.stateOf(pod.UID, key)
	if pod.DeletionTimestamp != nil {
		return e.terminate(ctx, pod, st)
	}
	return e.runPod(ctx, pod, st)
}

func (e *Edged) runtimeUIDs(key string) []types.UID {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []types.UID
	for uid, k := range e.rtKeys {
		if k == key {
			out = append(out, uid)
		}
	}
	return out
}

// runPod starts what should run, restarts what policy says, and sends the status.
func (e *Edged) runPod(ctx context.Context, pod *corev1.Pod, st *podState) error {
	rt, err := e.runtimeOf(ctx, pod.UID)
	if err != nil {
		return err
	}
	res := &syncResult{waits: map[string]*waiting{}}
	var actErr error
	done := e.podDone(ctx, pod, st, rt)
	if !done {
		actErr = e.runActions(ctx, pod, st, rt, res)
		if rt, err = e.runtimeOf(ctx, pod.UID); err != nil {
			return err
		}
	}
	status, err := e.buildStatus(ctx, pod, rt, res, st, false)
	if err != nil {
		return errors.Join(actErr, err)
	}
	if done && !isTerminal(status.Phase) {
		return nil // the runtime lost the finished containers (reboot): keep the terminal status
	}
	if isTerminal(status.Phase) {
		// Nothing will run again: free the sandbox (its IP), keep containers for their logs.
		if sb := rt.readySandbox(); sb != nil {
			if _, err := e.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
				actErr = errors.Join(actErr, fmt.Errorf("edged: stop sandbox: %w", err))
			}
		}
		if e.o.Prober != nil {
			e.o.Prober.Remove(pod.UID)
		}
	}
	if err := e.sendStatus(ctx, pod, st, status, false); err != nil {
		return errors.Join(actErr, err)
	}
	if res.requeue > 0 {
		e.queue.AddAfter(cacheKey(pod), res.requeue)
	}
	return actErr // errWaiting too: retried by the rate limiter, the status says why
}

func hasDownwardVolume(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.DownwardAPI != nil || v.Projected != nil {
			return true
		}
	}
	return false
}

func cacheKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func isTerminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

// podDone reports a pod that must not run anything again: terminal in the store or in what
// we sent (the kubelet never leaves a terminal phase).
func (e *Edged) podDone(_ context.Context, pod *corev1.Pod, st *podState, _ *podRuntime) bool {
	if isTerminal(pod.Status.Phase) {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return st.lastSent != nil && isTerminal(st.lastSent.Phase)
}

// runActions drives the pod one step: volumes, sandbox, init containers in order, containers.
func (e *Edged) runActions(ctx context.Context, pod *corev1.Pod, st *podState, rt *podRuntime, res *syncResult) error {
	if msg := e.invalidProbes(pod); msg != "" {
		res.message = msg
		for _, c := range pod.Spec.Containers {
			res.waits[c.Name] = &waiting{reason: "CreateContainerConfigError", message: msg}
		}
		return nil // nothing to retry until the spec changes
	}
	sb := rt.readySandbox()
	if sb == nil && e.atPodLimit(pod) {
		res.message = fmt.Sprintf("node %s runs its maximum of %d pods", e.o.NodeName, e.o.MaxPods)
		return fmt.Errorf("%w: %s", errWaiting, res.message)
	}
	ips := volume.PodIPs{HostIP: e.hostIP()}
	if pod.Spec.HostNetwork {
		ips.PodIP = ips.HostIP
	} else if sb != nil {
		if podIPs, err := e.sandboxIPs(ctx, sb.Id); err == nil && len(podIPs) > 0 {
			ips.PodIP = podIPs[0]
		}
	}
	if sb == nil {
		finished, err := e.allFinished(ctx, pod, rt)
		if err != nil || finished {
			return err // Never/OnFailure pod whose containers are done: no new sandbox
		}
	}
	paths, err := e.vol.Setup(ctx, pod, ips)
	if err != nil {
		res.message = err.Error()
		for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			res.waits[c.Name] = &waiting{reason: "ContainerCreating", message: err.Error()}
		}
		return fmt.Errorf("%w: %w", errWaiting, err)
	}

	if sb == nil {
		if err := e.replaceSandbox(ctx, pod, rt); err != nil {
			res.message = "failed to create pod sandbox: " + err.Error()
			return err
		}
		var err error
		if rt, err = e.runtimeOf(ctx, pod.UID); err != nil {
			return err
		}
		if sb = rt.readySandbox(); sb == nil {
			return fmt.Errorf("edged: sandbox of %s/%s not ready after start", pod.Namespace, pod.Name)
		}
		if podIPs, err := e.sandboxIPs(ctx, sb.Id); err == nil && len(podIPs) > 0 && !pod.Spec.HostNetwork {
			ips.PodIP = podIPs[0]
			if hasDownwardVolume(pod) { // status.podIP files, now that the IP is known
				if paths, err = e.vol.Setup(ctx, pod, ips); err != nil {
					return err
				}
			}
		}
	}
	sbCfg := e.sandboxConfig(pod, sb.GetMetadata().GetAttempt())
	cc := &containerCtx{pod: pod, st: st, rt: rt, sbID: sb.Id, sbCfg: sbCfg, paths: paths, ips: ips, res: res}

	done, err := e.syncInitContainers(ctx, cc)
	if err != nil || !done {
		return err
	}
	var errs []error
	var running []runningContainer
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		r, err := e.syncContainer(ctx, cc, c)
		errs = append(errs, err)
		if r != nil {
			running = append(running, *r)
		}
	}
	e.syncProbes(pod, ips.PodIP, running)
	e.gcContainers(ctx, rt)
	return errors.Join(errs...)
}

// replaceSandbox stops what is left of earlier sandboxes and starts a new attempt.
func (e *Edged) replaceSandbox(ctx context.Context, pod *corev1.Pod, rt *podRuntime) error {
	for _, c := range rt.containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			if _, err := e.o.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: 10}); err != nil {
				return fmt.Errorf("edged: stop container %s: %w", c.Id, err)
			}
		}
	}
	for _, s := range rt.sandboxes {
		if _, err := e.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			return fmt.Errorf("edged: stop sandbox %s: %w", s.Id, err)
		}
	}
	attempt := rt.nextAttempt()
	id, err := e.startSandbox(ctx, pod, attempt)
	if err != nil {
		return err
	}
	e.o.Logger.V(1).Info("sandbox started", "pod", klogRef(pod), "sandbox", id, "attempt", attempt)
	e.metrics.sandboxesStarted.Inc()
	return nil
}

// allFinished reports whether every container of a pod whose policy is not Always has
// exited for good, so nothing needs a sandbox any more.
func (e *Edged) allFinished(ctx context.Context, pod *corev1.Pod, rt *podRuntime) (bool, error) {
	if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "" {
		return false, nil
	}
	for _, c := range pod.Spec.Containers {
		inst := rt.byName(c.Name, "")
		if len(inst) == 0 {
			return false, nil
		}
		s, err := e.containerStatus(ctx, inst[0].Id)
		if err != nil {
			return false, err
		}
		if s.State != runtimeapi.ContainerState_CONTAINER_EXITED || shouldRestart(pod, s.ExitCode) {
			return false, nil
		}
	}
	return true, nil
}

// atPodLimit reports whether starting pod's sandbox would exceed MaxPods.
func (e *Edged) atPodLimit(pod *corev1.Pod) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for uid := range e.rtReady {
		if uid != pod.UID {
			n++
		}
	}
	return n >= e.o.MaxPods
}
