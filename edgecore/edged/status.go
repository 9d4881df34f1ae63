package edged

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/hubproto"
)

// podsResource is the hub's name of core/v1 pods.
const podsResource = "/v1/pods"

// secondsOf turns CRI nanoseconds into the API's second precision, so a status rebuilt from
// the same runtime state compares equal to the one already sent.
func secondsOf(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(ns/1e9, 0))
}

func (e *Edged) now() metav1.Time { return metav1.NewTime(e.o.Clock.Now().Truncate(time.Second)) }

// buildStatus computes the pod's full status from the runtime and this sync's findings.
// terminal is the final status of a deleted pod: phase by exit codes whatever the policy.
func (e *Edged) buildStatus(ctx context.Context, pod *corev1.Pod, rt *podRuntime, res *syncResult, st *podState, terminal bool) (*corev1.PodStatus, error) {
	e.mu.Lock()
	old := st.lastSent
	e.mu.Unlock()
	if old == nil {
		old = &pod.Status
	}
	s := &corev1.PodStatus{QOSClass: qosClass(pod), Message: res.message}
	if hip := e.hostIP(); hip != "" {
		s.HostIP, s.HostIPs = hip, []corev1.HostIP{{IP: hip}}
	}
	sb := rt.readySandbox()
	if sb != nil {
		ips, err := e.sandboxIPs(ctx, sb.Id)
		if err != nil {
			return nil, err
		}
		if pod.Spec.HostNetwork {
			ips = []string{s.HostIP}
		}
		for _, ip := range ips {
			if ip != "" {
				s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
			}
		}
		if len(s.PodIPs) > 0 {
			s.PodIP = s.PodIPs[0].IP
		}
	} else if old.PodIP != "" && terminal {
		s.PodIP, s.PodIPs = old.PodIP, old.PodIPs
	}
	switch {
	case old.StartTime != nil:
		s.StartTime = old.StartTime.DeepCopy()
	case len(rt.sandboxes) > 0:
		t := secondsOf(rt.sandboxes[len(rt.sandboxes)-1].CreatedAt)
		s.StartTime = &t
	default:
		t := e.now()
		s.StartTime = &t
	}
	sbID := ""
	if len(rt.sandboxes) > 0 {
		sbID = rt.sandboxes[0].Id
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs, err := e.containerStatusOf(ctx, pod, c, rt.byName(c.Name, sbID), res.waits[c.Name], true)
		if err != nil {
			return nil, err
		}
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs, err := e.containerStatusOf(ctx, pod, c, rt.byName(c.Name, ""), res.waits[c.Name], false)
		if err != nil {
			return nil, err
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	s.Phase = podPhase(pod, s, terminal)
	if terminal {
		for i := range s.ContainerStatuses {
			s.ContainerStatuses[i].Ready = false
		}
	}
	s.Conditions = e.conditions(pod, s, sb != nil && (pod.Spec.HostNetwork || s.PodIP != ""), old.Conditions)
	return s, nil
}

// containerStatusOf reports one container from its instances (newest first).
func (e *Edged) containerStatusOf(ctx context.Context, pod *corev1.Pod, c *corev1.Container, instances []*runtimeapi.Container, w *waiting, init bool) (corev1.ContainerStatus, error) {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	if len(instances) == 0 {
		if w == nil {
			w = &waiting{reason: "ContainerCreating"}
			if init {
				w.reason = "PodInitializing"
			}
			if !init && len(pod.Spec.InitContainers) > 0 {
				w.reason = "PodInitializing"
			}
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
		return cs, nil
	}
	latest, err := e.containerStatus(ctx, instances[0].Id)
	if err != nil {
		return cs, err
	}
	cs.ContainerID = e.o.RuntimeName + "://" + latest.Id
	cs.ImageID = latest.ImageRef
	cs.RestartCount = restartCountOf(latest.Annotations)
	previous := 1 // index of the instance that gives lastState
	switch latest.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: secondsOf(latest.StartedAt)}
		cs.Started = ptrTo(e.started(pod, c))
		cs.Ready = !init && e.ready(pod, c)
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		cs.Started = ptrTo(false)
	default:
		if w != nil {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}
			previous = 0
		} else {
			cs.State.Terminated = e.terminated(latest)
		}
		cs.Started = ptrTo(false)
	}
	if w != nil && cs.State.Waiting == nil {
		// A replacement is being prepared (new spec, image pull): say so over the old state.
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: w.reason, Message: w.message}}
		cs.Ready = false
	}
	if previous < len(instances) {
		prev := latest
		if previous == 1 {
			if prev, err = e.containerStatus(ctx, instances[1].Id); err != nil {
				return cs, err
			}
		}
		if prev.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			cs.LastTerminationState.Terminated = e.terminated(prev)
		}
	}
	return cs, nil
}

func (e *Edged) terminated(s *runtimeapi.ContainerStatus) *corev1.ContainerStateTerminated {
	reason := s.Reason
	if reason == "" {
		reason = "Error"
		if s.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: s.ExitCode, Reason: reason, Message: s.Message,
		StartedAt: secondsOf(s.StartedAt), FinishedAt: secondsOf(s.FinishedAt),
		ContainerID: e.o.RuntimeName + "://" + s.Id,
	}
}

func ptrTo[T any](v T) *T { return &v }

// podPhase follows the kubelet's rules: Pending until init containers succeeded and every
// container started once; Running while one runs or will be restarted; Succeeded/Failed
// once all stopped for good.
func podPhase(pod *corev1.Pod, s *corev1.PodStatus, terminal bool) corev1.PodPhase {
	never := pod.Spec.RestartPolicy == corev1.RestartPolicyNever || terminal
	for _, cs := range s.InitContainerStatuses {
		t := cs.State.Terminated
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case t != nil && never:
			return corev1.PodFailed
		case terminal:
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	var running, waiting, restarting, succeeded, failed int
	for _, cs := range s.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil:
			failed++
		case cs.LastTerminationState.Terminated != nil:
			restarting++
		default:
			waiting++
		}
	}
	switch {
	case terminal && failed == 0 && succeeded > 0 && running+waiting+restarting == 0:
		return corev1.PodSucceeded
	case terminal:
		return corev1.PodFailed
	case waiting > 0:
		return corev1.PodPending
	case running > 0 || restarting > 0:
		return corev1.PodRunning
	case succeeded+failed == 0:
		return corev1.PodPending
	case pod.Spec.RestartPolicy == corev1.RestartPolicyNever && failed > 0:
		return corev1.PodFailed
	case failed == 0 && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways && pod.Spec.RestartPolicy != "":
		return corev1.PodSucceeded
	}
	return corev1.PodRunning // Always (or OnFailure with failures): they are restarted
}

// conditions computes the pod's conditions, keeping transition times of unchanged ones.
func (e *Edged) conditions(pod *corev1.Pod, s *corev1.PodStatus, sandboxReady bool, old []corev1.PodCondition) []corev1.PodCondition {
	now := e.now()
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, LastTransitionTime: now}
		if ok {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason, c.Message = reason, msg
		}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	var notInit, notReady []string
	for _, cs := range s.InitContainerStatuses {
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			notInit = append(notInit, cs.Name)
		}
	}
	for _, cs := range s.ContainerStatuses {
		if !cs.Ready {
			notReady = append(notReady, cs.Name)
		}
	}
	readyReason, readyMsg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	if s.Phase == corev1.PodSucceeded {
		readyReason, readyMsg = "PodCompleted", ""
	}
	if isTerminal(s.Phase) {
		notReady = append(notReady, "") // a finished pod is never ready
	}
	initReason := "ContainersNotInitialized"
	if s.Phase == corev1.PodSucceeded {
		initReason = "PodCompleted"
	}
	return []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, sandboxReady, "", ""),
		cond(corev1.PodInitialized, len(notInit) == 0 || s.Phase == corev1.PodSucceeded, initReason, fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(notInit, " "))),
		cond(corev1.ContainersReady, len(notReady) == 0, readyReason, readyMsg),
		cond(corev1.PodReady, len(notReady) == 0, readyReason, readyMsg),
		cond(corev1.PodScheduled, true, "", ""),
	}
}

// sendStatus queues status upstream unless it equals what was last sent (or, after a restart,
// what the store already holds). finalize marks the final status of a deleted pod.
func (e *Edged) sendStatus(ctx context.Context, pod *corev1.Pod, st *podState, s *corev1.PodStatus, finalize bool) error {
	e.mu.Lock()
	last := st.lastSent
	e.mu.Unlock()
	if !finalize {
		if last != nil && equality.Semantic.DeepEqual(last, s) {
			return nil
		}
		if last == nil && equality.Semantic.DeepEqual(&pod.Status, s) {
			e.mu.Lock()
			st.lastSent = s
			e.mu.Unlock()
			return nil
		}
	}
	obj := pod.DeepCopy()
	obj.APIVersion, obj.Kind = "v1", "Pod"
	obj.ManagedFields = nil
	obj.Status = *s
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("edged: encode status of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	u := hubproto.StatusUpdate{Ref: hubproto.Ref{Resource: podsResource, Namespace: pod.Namespace, Name: pod.Name}, Object: b, Finalize: finalize}
	if err := e.o.Status(ctx, []hubproto.StatusUpdate{u}); err != nil {
		return fmt.Errorf("edged: send status of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	e.metrics.statusSent.Inc()
	e.mu.Lock()
	st.lastSent = s
	e.mu.Unlock()
	return nil
}
