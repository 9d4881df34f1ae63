package prober

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 5 * time.Second

// fakeExec answers ExecSync with scripted exit codes (the last repeats) and
// signals each call on calls.
type fakeExec struct {
	mu    sync.Mutex
	codes []int32
	n     int
	calls chan []string
	hang  bool // block until ctx ends
}

func newFakeExec(codes ...int32) *fakeExec {
	return &fakeExec{codes: codes, calls: make(chan []string, 100)}
}

func (f *fakeExec) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, []byte, int32, error) {
	f.mu.Lock()
	code := f.codes[min(f.n, len(f.codes)-1)]
	f.n++
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		f.calls <- append([]string{id}, cmd...)
		return nil, nil, -1, ctx.Err()
	}
	f.calls <- append([]string{id}, cmd...)
	return []byte("out"), []byte("err"), code, nil
}

func (f *fakeExec) setCodes(codes ...int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes, f.n = codes, 0
}

// waitCall waits for one exec call.
func (f *fakeExec) waitCall(t *testing.T) []string {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for an exec probe")
		return nil
	}
}

// noCall asserts that no exec call comes within a short while.
func (f *fakeExec) noCall(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("unexpected exec probe %v", c)
	case <-time.After(100 * time.Millisecond):
	}
}

type harness struct {
	t      *testing.T
	m      *Manager
	clock  *clocktesting.FakeClock
	exec   *fakeExec
	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t *testing.T, exec *fakeExec, o Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: clocktesting.NewFakeClock(time.Unix(1_800_000_000, 0)), exec: exec, done: make(chan struct{})}
	o.Exec, o.Clock = exec, h.clock
	if o.Logger.GetSink() == nil {
		o.Logger = ktesting.NewLogger(t, ktesting.NewConfig())
	}
	h.m = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		h.m.Run(ctx)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(waitTimeout):
		h.t.Error("Run did not return after its context ended")
	}
}

// waitWaiters waits until the fake clock has n timers/tickers.
func (h *harness) waitWaiters(n int) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for h.clock.Waiters() < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %d clock waiters (have %d)", n, h.clock.Waiters())
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) result() Result {
	h.t.Helper()
	select {
	case r := <-h.m.Results():
		return r
	case <-time.After(waitTimeout):
		h.t.Fatal("timed out waiting for a result")
		return Result{}
	}
}

func (h *harness) noResult() {
	h.t.Helper()
	select {
	case r := <-h.m.Results():
		h.t.Fatalf("unexpected result %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func execProbe(period, failure, success, delay int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		PeriodSeconds:       period,
		FailureThreshold:    failure,
		SuccessThreshold:    success,
		InitialDelaySeconds: delay,
		TimeoutSeconds:      1,
	}
}

func testPod(uid string, c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: types.UID(uid)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
	}
}

func target(pod *corev1.Pod, id string, started time.Time) Target {
	return Target{Pod: pod, PodIP: "10.0.0.9", Containers: []ContainerTarget{{Name: pod.Spec.Containers[0].Name, ID: id, StartedAt: started}}}
}

// loopbackDialer sends every connection to addr, whatever the probe's
// host: probes aim at the pod IP, the test listens on loopback.
type loopbackDialer struct{ addr string }

func (d loopbackDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, network, d.addr)
}

func port(n int) intstr.IntOrString { return intstr.FromInt32(int32(n)) }

// expect reads the next result and checks its kind and success.
func (h *harness) expect(kind Kind, success bool) Result {
	h.t.Helper()
	r := h.result()
	if r.Kind != kind || r.Success != success {
		h.t.Fatalf("result = %+v, want %s success=%v", r, kind, success)
	}
	return r
}
