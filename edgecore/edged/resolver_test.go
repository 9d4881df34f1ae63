package edged

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolverCurrentAndPrevious(t *testing.T) {
	h := newHarness(t, testPod("logs", app("a")))
	h.sync("shop/logs")
	id, path, err := h.e.Container("shop", "logs", "a", false)
	if err != nil || id == "" || !strings.HasSuffix(path, "a/0.log") {
		t.Fatalf("current: %q %q %v", id, path, err)
	}
	if _, _, err := h.e.Container("shop", "logs", "a", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("previous before a restart: %v", err)
	}
	h.rt.exit("a", 1)
	h.sync("shop/logs")
	prevID, prevPath, err := h.e.Container("shop", "logs", "a", true)
	if err != nil || prevID != id || prevPath != path {
		t.Errorf("previous: %q %q %v, want %q", prevID, prevPath, err, id)
	}
	if _, _, err := h.e.Container("shop", "nope", "a", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown pod: %v", err)
	}
}

func TestPreStopHookRunsBeforeStop(t *testing.T) {
	c := app("a")
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"testapp", "touch", "/tmp/bye"}}}}
	pod := testPod("hook", c)
	h := newHarness(t, pod)
	h.sync("shop/hook")
	del := pod.DeepCopy()
	now := metav1.Now()
	del.DeletionTimestamp = &now
	h.updatePod(del)
	h.sync("shop/hook")
	calls := strings.Join(h.rt.Calls(), "\n")
	exec, stop := strings.Index(calls, "ExecSync"), strings.Index(calls, "StopContainer a")
	if exec < 0 || stop < 0 || exec > stop {
		t.Errorf("preStop not run before stop:\n%s", calls)
	}
}

func TestResolverSandbox(t *testing.T) {
	h := newHarness(t, testPod("pf", app("a")))
	h.sync("shop/pf")
	id, err := h.e.Sandbox("shop", "pf")
	if err != nil || id == "" {
		t.Fatalf("sandbox: %q %v", id, err)
	}
	if _, err := h.e.Sandbox("shop", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown pod: %v", err)
	}
}

// The stream server may ask before Run has started the informers: a clear not-found, no
// nil lister.
func TestResolverBeforeInformers(t *testing.T) {
	h := newHarness(t)
	e, err := New(h.e.o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.queue.ShutDown()
	if _, _, err := e.Container("shop", "logs", "a", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("container before informers: %v", err)
	}
	if _, err := e.Sandbox("shop", "logs"); !errors.Is(err, ErrNotFound) {
		t.Errorf("sandbox before informers: %v", err)
	}
}
