package metaserver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
)

// TestWatchResumesAfterRestart watches from a resourceVersion taken before
// the server and the store were restarted (closed, reopened on the same
// file): the watch gets exactly the changes made after it, before and after
// the restart, in order.
func TestWatchResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	e := startEnv(t, "", "", metastoreOpts(), Options{})
	e.apply(pod("a", "p1", "1", "n", ""), pod("a", "p2", "2", "n", ""))
	l, err := e.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := l.ResourceVersion
	e.apply(pod("a", "p3", "3", "n", ""), pod("a", "p1", "4", "n", `"v":"2"`))
	e.stop()

	e2 := startEnv(t, e.path, "", metastoreOpts(), Options{})
	e2.apply(del(podsR, "a", "p2", "5"), service("a", "other", "6", "10.96.0.1"))
	w, err := e2.cs.CoreV1().Pods("a").Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	want := []string{"ADDED p3 3", "MODIFIED p1 4", "DELETED p2 5"}
	for i, wantEv := range want {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				t.Fatalf("event %d: %v %T %v", i, ev.Type, ev.Object, ev.Object)
			}
			if got := fmt.Sprintf("%s %s %s", ev.Type, p.Name, p.ResourceVersion); got != wantEv {
				t.Fatalf("event %d = %q, want %q", i, got, wantEv)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%q) not received", i, wantEv)
		}
	}
	// A live change still arrives.
	e2.apply(pod("a", "p4", "7", "n", ""))
	select {
	case ev := <-w.ResultChan():
		if p := ev.Object.(*corev1.Pod); ev.Type != watch.Added || p.Name != "p4" || p.ResourceVersion != "7" {
			t.Fatalf("live event = %v %s %s", ev.Type, p.Name, p.ResourceVersion)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("live event not received")
	}
}

// TestCompactedResourceVersion: a watch from a compacted revision is 410
// Gone (Expired); an informer whose watch broke while the change log moved
// past it relists by itself and converges on the store's content.
func TestCompactedResourceVersion(t *testing.T) {
	ctx := context.Background()
	sopts := metastore.Options{ChangeLogSize: 5}
	e := startEnv(t, "", "", sopts, Options{})
	for i := 0; i < 10; i++ {
		e.apply(pod("a", fmt.Sprintf("p%d", i), fmt.Sprint(i+1), "n", ""))
	}
	_, err := e.cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if !apierrors.IsResourceExpired(err) {
		t.Fatalf("watch from a compacted revision = %v, want 410 Expired", err)
	}
	if w, err := e.cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: "5"}); err != nil {
		t.Fatalf("watch from the oldest kept revision = %v", err)
	} else {
		w.Stop()
	}
	if _, err := e.cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: "99"}); !apierrors.IsResourceExpired(err) {
		t.Fatalf("watch from a future revision = %v, want 410 Expired", err)
	}

	inf := startInformers(t, e.cs)
	lister := inf.factory.Core().V1().Pods().Lister()
	eventually(t, "10 pods in the informer", func() bool {
		pods, _ := lister.List(labels.Everything())
		return len(pods) == 10
	})
	// The server goes away after the watch has run a while (so that the
	// reflector resumes its watch rather than starting over); meanwhile the
	// change log moves far past the informer's revision (deletes included);
	// then the server comes back on the same address.
	time.Sleep(1200 * time.Millisecond)
	e.stop()
	st, err := metastore.Open(e.path, sopts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if _, err := st.Apply(ctx, []metastore.Change{del(podsR, "a", fmt.Sprintf("p%d", i), "")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Apply(ctx, []metastore.Change{pod("a", "late", "100", "n", "")}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	reg := prometheus.NewRegistry()
	e2 := startEnv(t, e.path, e.addr, sopts, Options{Registerer: reg})
	eventually(t, "the informer to relist to [p8 p9 late]", func() bool {
		pods, _ := lister.List(labels.Everything())
		return len(pods) == 3
	})
	pods, _ := lister.List(labels.Everything())
	t.Logf("informer after relist: %v", podNames(pods))
	if n := testutil.ToFloat64(e2.srv.metrics.requests.WithLabelValues("watch", "410")); n < 1 {
		t.Fatalf("no watch was refused with 410 (%v): the informer did not go through a relist", n)
	}
}
