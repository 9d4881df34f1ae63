package edged

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/outpostmesh/outpost/edgecore/edged/prober"
)

// fakeProber reports readiness from a map and emits the results a test pushes.
type fakeProber struct {
	mu      sync.Mutex
	ready   map[string]bool
	targets []prober.Target
	results chan prober.Result
}

func (f *fakeProber) Sync(t prober.Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, t)
}
func (f *fakeProber) Remove(types.UID) {}
func (f *fakeProber) Ready(_ types.UID, c string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready[c]
}
func (f *fakeProber) Started(types.UID, string) bool { return true }
func (f *fakeProber) Results() <-chan prober.Result  { return f.results }

func probedPod() *corev1.Pod {
	c := app("a")
	handler := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: handler, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	pod := testPod("probed", c)
	pod.Spec.TerminationGracePeriodSeconds = ptrTo[int64](7)
	return pod
}

func TestLivenessFailureRestartsAndReadinessGatesReady(t *testing.T) {
	h := newHarness(t, probedPod())
	fp := &fakeProber{ready: map[string]bool{}, results: make(chan prober.Result, 4)}
	h.e.o.Prober = fp
	if err := h.sync("shop/probed"); err != nil {
		t.Fatal(err)
	}
	got, _ := h.sink.last(t)
	if got.Status.ContainerStatuses[0].Ready || got.Status.Conditions[3].Type != corev1.PodReady || got.Status.Conditions[3].Status != corev1.ConditionFalse {
		t.Fatalf("ready before readiness probe passed: %+v", got.Status)
	}
	if len(fp.targets) == 0 || len(fp.targets[0].Containers) != 1 || fp.targets[0].PodIP == "" {
		t.Fatalf("prober targets %+v", fp.targets)
	}
	fp.mu.Lock()
	fp.ready["a"] = true
	fp.mu.Unlock()
	h.sync("shop/probed")
	if got, _ = h.sink.last(t); !got.Status.ContainerStatuses[0].Ready {
		t.Fatal("not ready after readiness passed")
	}

	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { defer close(done); h.e.consumeProbes(ctx) }()
	defer func() { cancel(); <-done }()
	id := fp.targets[len(fp.targets)-1].Containers[0].ID
	fp.results <- prober.Result{PodUID: "uid-probed", Container: "a", ContainerID: id, Kind: prober.Liveness, Success: false, Message: "HTTP 500"}
	for i := 0; ; i++ {
		h.e.mu.Lock()
		_, marked := h.e.state["uid-probed"].kill[id]
		h.e.mu.Unlock()
		if marked {
			break
		}
		if i == 200 {
			t.Fatal("liveness failure not recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.sync("shop/probed") // kills with the grace period
	if h.rt.count("StopContainer a 7") != 1 {
		t.Fatalf("calls %q", h.rt.Calls())
	}
	h.sync("shop/probed") // restarts per policy
	if r := h.rt.running()["a"]; r == nil || r.Annotations["io.kubernetes.container.restartCount"] != "1" {
		t.Fatalf("not restarted: %q", h.rt.Calls())
	}
}

func TestInvalidProbeGivesMessage(t *testing.T) {
	pod := probedPod()
	pod.Spec.Containers[0].LivenessProbe.ProbeHandler = corev1.ProbeHandler{} // no handler
	h := newHarness(t, pod)
	h.sync("shop/probed")
	got, _ := h.sink.last(t)
	w := got.Status.ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "CreateContainerConfigError" || got.Status.Message == "" || h.rt.count("CreateContainer") != 0 {
		t.Fatalf("status %+v", got.Status)
	}
	t.Log(got.Status.Message)
}

// A named probe port the container does not declare passes the apiserver; the container
// must not start, and the status must name the port.
func TestUndeclaredProbePortGivesMessage(t *testing.T) {
	pod := probedPod()
	pod.Spec.Containers[0].LivenessProbe.ProbeHandler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("metrics")}}
	h := newHarness(t, pod)
	h.sync("shop/probed")
	got, _ := h.sink.last(t)
	w := got.Status.ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "CreateContainerConfigError" || !strings.Contains(w.Message, `"metrics"`) ||
		!strings.Contains(got.Status.Message, `"metrics"`) || h.rt.count("CreateContainer") != 0 {
		t.Fatalf("status %+v", got.Status)
	}
}
