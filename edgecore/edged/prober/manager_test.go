package prober

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

func TestLivenessFailureThreshold(t *testing.T) {
	exec := newFakeExec(0, 1, 1, 0, 1, 1, 1)
	reg := prometheus.NewRegistry()
	h := newHarness(t, exec, Options{Registerer: reg})
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: execProbe(10, 3, 1, 0)})
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	h.expect(Readiness, true) // no readiness probe: ready once running

	if got := exec.waitCall(t); got[0] != "c1" || got[1] != "check" {
		t.Fatalf("exec call = %v, want [c1 check]", got)
	}
	// ok, fail, fail, ok (resets), fail, fail: still under the threshold.
	for range 5 {
		h.waitWaiters(1)
		h.clock.Step(10 * time.Second)
		exec.waitCall(t)
	}
	h.noResult()
	h.clock.Step(10 * time.Second)
	exec.waitCall(t) // third failure in a row
	r := h.result()
	if r.Kind != Liveness || r.Success || r.PodUID != "u1" || r.Container != "app" || r.ContainerID != "c1" {
		t.Fatalf("result = %+v, want liveness failure of u1/app/c1", r)
	}
	if !strings.Contains(r.Message, "exited with 1") {
		t.Errorf("message %q does not say why", r.Message)
	}
	// On hold until the container is replaced: no more probes.
	h.clock.Step(10 * time.Second)
	exec.noCall(t)
	if got := testutil.ToFloat64(h.m.metrics.probes.WithLabelValues("liveness", "failure")); got != 5 {
		t.Errorf("failure count = %v, want 5", got)
	}
	if got := testutil.ToFloat64(h.m.metrics.probes.WithLabelValues("liveness", "success")); got != 2 {
		t.Errorf("success count = %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "outpost_edged_probe_total"); err != nil || n != 2 {
		t.Errorf("registered series = %d, %v; want 2", n, err)
	}

	// A new container ID brings fresh workers and counters.
	exec.setCodes(1)
	h.m.Sync(target(pod, "c2", h.clock.Now()))
	if got := exec.waitCall(t); got[0] != "c2" {
		t.Fatalf("probe after restart went to %v", got)
	}
	h.expect(Readiness, false) // c1 went
	h.expect(Readiness, true)  // c2 came
	h.noResult()               // one failure of three
}

func TestInitialDelay(t *testing.T) {
	exec := newFakeExec(0)
	h := newHarness(t, exec, Options{})
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: execProbe(10, 3, 1, 5)})
	started := h.clock.Now().Add(-2 * time.Second) // started 2s ago: 3s left
	h.m.Sync(target(pod, "c1", started))
	h.waitWaiters(1)
	h.clock.Step(2 * time.Second)
	exec.noCall(t)
	h.clock.Step(time.Second)
	exec.waitCall(t)

	// Started long ago: probes at once.
	pod2 := testPod("u2", corev1.Container{Name: "app", LivenessProbe: execProbe(10, 3, 1, 5)})
	h.m.Sync(target(pod2, "c2", h.clock.Now().Add(-time.Minute)))
	if got := exec.waitCall(t); got[0] != "c2" {
		t.Fatalf("call = %v, want c2", got)
	}
}

func TestStartupGatesLivenessAndReadiness(t *testing.T) {
	exec := newFakeExec(1)
	h := newHarness(t, exec, Options{})
	startup := execProbe(1, 5, 1, 0)
	startup.Exec.Command = []string{"startup"}
	live := execProbe(1, 3, 1, 0)
	live.Exec.Command = []string{"live"}
	pod := testPod("u1", corev1.Container{Name: "app", StartupProbe: startup, LivenessProbe: live})
	h.m.Sync(target(pod, "c1", h.clock.Now()))

	for i := range 3 {
		if c := exec.waitCall(t); c[1] != "startup" {
			t.Fatalf("probe %d = %v before startup passed", i, c)
		}
		if h.m.Started("u1", "app") || h.m.Ready("u1", "app") {
			t.Fatal("started/ready before the startup probe passed")
		}
		if i == 2 {
			exec.setCodes(0)
		}
		h.waitWaiters(2)
		h.clock.Step(time.Second)
	}
	if c := exec.waitCall(t); c[1] != "startup" {
		t.Fatalf("call = %v", c)
	}
	if r := h.result(); r.Kind != Startup || !r.Success {
		t.Fatalf("result = %+v, want startup success", r)
	}
	// No readiness probe: ready once started.
	if r := h.result(); r.Kind != Readiness || !r.Success {
		t.Fatalf("result = %+v, want readiness true", r)
	}
	if !h.m.Started("u1", "app") || !h.m.Ready("u1", "app") {
		t.Fatal("not started/ready after the startup probe passed")
	}
	h.waitWaiters(1) // the startup worker is gone, the liveness ticker stays
	h.clock.Step(time.Second)
	if c := exec.waitCall(t); c[1] != "live" {
		t.Fatalf("call = %v, want the liveness probe", c)
	}
	h.clock.Step(time.Second)
	if c := exec.waitCall(t); c[1] != "live" {
		t.Fatalf("startup probe ran again after passing: %v", c)
	}
}

func TestStartupFailure(t *testing.T) {
	exec := newFakeExec(1)
	h := newHarness(t, exec, Options{})
	pod := testPod("u1", corev1.Container{Name: "app", StartupProbe: execProbe(1, 2, 1, 0)})
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	exec.waitCall(t)
	h.waitWaiters(1)
	h.clock.Step(time.Second)
	exec.waitCall(t)
	if r := h.result(); r.Kind != Startup || r.Success {
		t.Fatalf("result = %+v, want startup failure", r)
	}
	if h.m.Started("u1", "app") {
		t.Fatal("started after a startup failure")
	}
}

func TestReadinessTransitions(t *testing.T) {
	exec := newFakeExec(1, 0, 0, 1, 1, 0)
	h := newHarness(t, exec, Options{})
	pod := testPod("u1", corev1.Container{Name: "app", ReadinessProbe: execProbe(1, 2, 2, 0)})
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	step := func() {
		h.waitWaiters(1)
		h.clock.Step(time.Second)
		exec.waitCall(t)
	}
	exec.waitCall(t) // fail
	if !h.m.Started("u1", "app") || h.m.Ready("u1", "app") {
		t.Fatal("want started and not ready before the first success")
	}
	step() // ok: 1 of 2
	h.noResult()
	step() // ok: 2 of 2
	if r := h.result(); r.Kind != Readiness || !r.Success {
		t.Fatalf("result = %+v, want ready", r)
	}
	eventually(t, "ready", func() bool { return h.m.Ready("u1", "app") })
	step() // fail: 1 of 2
	h.noResult()
	step() // fail: 2 of 2
	if r := h.result(); r.Kind != Readiness || r.Success || r.Message == "" {
		t.Fatalf("result = %+v, want not ready with a message", r)
	}
	step() // ok: 1 of 2, still not ready
	h.noResult()
	if h.m.Ready("u1", "app") {
		t.Fatal("ready after one success with successThreshold 2")
	}
}

func TestNoProbes(t *testing.T) {
	h := newHarness(t, newFakeExec(0), Options{})
	pod := testPod("u1", corev1.Container{Name: "app"})
	if h.m.Ready("u1", "app") || h.m.Started("u1", "app") {
		t.Fatal("unknown container reported ready or started")
	}
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	if !h.m.Ready("u1", "app") || !h.m.Started("u1", "app") {
		t.Fatal("container without probes must be ready and started")
	}
	if r := h.result(); r.Kind != Readiness || !r.Success {
		t.Fatalf("result = %+v, want readiness true", r)
	}
	// The container stops: not ready any more, and the change is reported.
	h.m.Sync(Target{Pod: pod})
	if h.m.Ready("u1", "app") {
		t.Fatal("stopped container still ready")
	}
	if r := h.result(); r.Kind != Readiness || r.Success {
		t.Fatalf("result = %+v, want readiness false", r)
	}
}

func TestSyncBeforeRun(t *testing.T) {
	exec := newFakeExec(0)
	m := New(Options{Exec: exec})
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: execProbe(10, 3, 1, 0)})
	m.Sync(target(pod, "c1", time.Now()))
	exec.noCall(t)
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { defer close(done); m.Run(ctx) }()
	exec.waitCall(t)
	cancel()
	<-done
}

func TestRemoveStopsWorkers(t *testing.T) {
	exec := newFakeExec(0)
	h := newHarness(t, exec, Options{})
	before := goleak.IgnoreCurrent()
	for i := range 20 {
		uid := string(rune('a' + i))
		pod := testPod(uid, corev1.Container{
			Name:           "app",
			LivenessProbe:  execProbe(10, 3, 1, 0),
			ReadinessProbe: execProbe(10, 3, 1, 0),
		})
		h.m.Sync(target(pod, "c-"+uid, h.clock.Now()))
	}
	for range 40 {
		exec.waitCall(t)
	}
	if err := goleak.Find(before); err == nil || strings.Count(err.Error(), "edged/prober.(*Manager).startLocked") < 40 {
		t.Fatalf("want 40 worker goroutines, found: %v", err)
	}
	for i := range 20 {
		h.m.Remove(k8stypes.UID(string(rune('a' + i))))
	}
	// Remove returns after its workers did.
	goleak.VerifyNone(t, before)
	h.clock.Step(10 * time.Second)
	exec.noCall(t)
	if h.m.Ready("a", "app") {
		t.Fatal("removed pod still ready")
	}
}

func TestHungProbeIsCancelledByRemove(t *testing.T) {
	exec := newFakeExec(0)
	exec.hang = true
	h := newHarness(t, exec, Options{})
	p := execProbe(10, 3, 1, 0)
	p.TimeoutSeconds = 3600 // only Remove can end it
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: p})
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	eventually(t, "probe in flight", func() bool { exec.mu.Lock(); defer exec.mu.Unlock(); return exec.n == 1 })
	done := make(chan struct{})
	go func() { defer close(done); h.m.Remove("u1") }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Remove did not stop a worker blocked in a probe")
	}
	exec.waitCall(t)
	h.expect(Readiness, true) // from Sync
	h.noResult()              // a cancelled probe is no failure
}

func TestResultsDropOldest(t *testing.T) {
	h := newHarness(t, newFakeExec(0), Options{ResultsBuffer: 1})
	for _, uid := range []string{"a", "b", "c"} {
		h.m.Sync(target(testPod(uid, corev1.Container{Name: "app"}), "c-"+uid, h.clock.Now()))
	}
	if r := h.result(); r.PodUID != "c" {
		t.Fatalf("result = %+v, want the newest (pod c)", r)
	}
	h.noResult()
}

func TestInvalidProbeIsNotRun(t *testing.T) {
	exec := newFakeExec(0)
	h := newHarness(t, exec, Options{})
	bad := execProbe(10, 3, 2, 0) // liveness with successThreshold 2
	pod := testPod("u1", corev1.Container{Name: "app", LivenessProbe: bad})
	h.m.Sync(target(pod, "c1", h.clock.Now()))
	exec.noCall(t)
}
