package edged

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/outpostmesh/outpost/hubproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testNode = "edge-1"

// sink records status updates.
type sink struct {
	mu      sync.Mutex
	updates []hubproto.StatusUpdate
}

func (s *sink) send(_ context.Context, u []hubproto.StatusUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates = append(s.updates, u...)
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// last decodes the newest update's pod.
func (s *sink) last(t *testing.T) (*corev1.Pod, bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.updates) == 0 {
		t.Fatal("no status sent")
	}
	u := s.updates[len(s.updates)-1]
	var p corev1.Pod
	if err := json.Unmarshal(u.Object, &p); err != nil {
		t.Fatal(err)
	}
	if u.Resource != "/v1/pods" || u.Name != p.Name || u.Namespace != p.Namespace {
		t.Errorf("bad ref %+v", u.Ref)
	}
	return &p, u.Finalize
}

type fakeMounter struct{}

func (fakeMounter) MountTmpfs(string, int64) error       { return nil }
func (fakeMounter) Unmount(string) error                 { return nil }
func (fakeMounter) MountPoints(string) ([]string, error) { return nil, nil }

type harness struct {
	t      *testing.T
	e      *Edged
	rt     *fakeRuntime
	images *fakeImages
	sink   *sink
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	ctx    context.Context
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &harness{
		t: t, rt: newFakeRuntime(clk), sink: &sink{}, clock: clk,
		images: &fakeImages{present: map[string]bool{"outpost.local/testapp:v1": true}, pullable: map[string]bool{}},
		client: fake.NewClientset(objs...),
	}
	h.e = h.newEdged(h.rt)
	return h
}

// newEdged builds an Edged on the harness' runtime with its informers started (a second
// one simulates a restart).
func (h *harness) newEdged(rt *fakeRuntime) *Edged {
	t := h.t
	logger, ctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(ctx)
	dir := t.TempDir()
	e, err := New(Options{
		NodeName: testNode, Sources: clientSources(h.client, testNode), Runtime: rt, Images: h.images, Status: h.sink.send,
		Mounter: fakeMounter{}, RootDir: dir + "/root", PodLogsDir: dir + "/logs", CNIConfDir: dir + "/cni",
		NodeIP: "192.168.1.10", Clock: h.clock, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, err := e.startInformers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); stop(); e.queue.ShutDown() })
	h.ctx = ctx
	return e
}

func (h *harness) sync(key string) error {
	h.t.Helper()
	h.e.relist(h.ctx)
	return h.e.syncPod(h.ctx, key)
}

// waitLister waits until the lister shows cond (informers are asynchronous).
func (h *harness) waitLister(ns, name string, cond func(*corev1.Pod) bool) {
	h.t.Helper()
	for range 200 {
		p, err := h.e.pods.Pods(ns).Get(name)
		if cond(p) && (err == nil || p == nil) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("lister never showed the expected %s/%s", ns, name)
}

func (h *harness) updatePod(p *corev1.Pod) {
	h.t.Helper()
	if _, err := h.client.CoreV1().Pods(p.Namespace).Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	rv := p
	h.waitLister(p.Namespace, p.Name, func(q *corev1.Pod) bool { return q != nil && equalSpecs(q, rv) })
}

func equalSpecs(a, b *corev1.Pod) bool {
	x, _ := json.Marshal(a.Spec)
	y, _ := json.Marshal(b.Spec)
	return string(x) == string(y) && (a.DeletionTimestamp == nil) == (b.DeletionTimestamp == nil)
}

func testPod(name string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name), Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{NodeName: testNode, Containers: containers, RestartPolicy: corev1.RestartPolicyAlways},
	}
}

func app(name string) corev1.Container {
	return corev1.Container{Name: name, Image: "outpost.local/testapp:v1", ImagePullPolicy: corev1.PullIfNotPresent}
}

func envMap(cfg *runtimeapi.ContainerConfig) map[string]string {
	out := map[string]string{}
	for _, kv := range cfg.Envs {
		out[kv.Key] = string(kv.Value)
	}
	return out
}
