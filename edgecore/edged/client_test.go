package edged

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// NewSources lists through the core/v1-only client with the node's selectors.
func TestNewSourcesList(t *testing.T) {
	got := map[string]string{} // path → fieldSelector
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got[r.URL.Path] = r.URL.Query().Get("fieldSelector")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/pods":
			_ = json.NewEncoder(w).Encode(corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
				ListMeta: metav1.ListMeta{ResourceVersion: "7"},
				Items:    []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}}})
		case "/api/v1/nodes":
			_ = json.NewEncoder(w).Encode(corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}})
		default:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound})
		}
	}))
	defer srv.Close()
	s, err := NewSources(&rest.Config{Host: srv.URL}, testNode)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obj, err := s.Pods.(cache.ListerWatcherWithContext).ListWithContext(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pl, ok := obj.(*corev1.PodList)
	if !ok || len(pl.Items) != 1 || pl.Items[0].Name != "web" || pl.ResourceVersion != "7" {
		t.Fatalf("pods list %#v", obj)
	}
	if _, err := s.Nodes.(cache.ListerWatcherWithContext).ListWithContext(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secrets.(cache.ListerWatcherWithContext).ListWithContext(ctx, metav1.ListOptions{}); err == nil {
		t.Error("a 404 listed")
	}
	want := map[string]string{"/api/v1/pods": "spec.nodeName=" + testNode, "/api/v1/nodes": "metadata.name=" + testNode, "/api/v1/secrets": ""}
	for p, sel := range want {
		if g, ok := got[p]; !ok || g != sel {
			t.Errorf("%s: fieldSelector %q (requested %v), want %q", p, g, ok, sel)
		}
	}
}

func TestNewSourcesInvalid(t *testing.T) {
	if _, err := NewSources(nil, testNode); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("nil config: %v", err)
	}
	if _, err := NewSources(&rest.Config{Host: "http://127.0.0.1:1"}, ""); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no node: %v", err)
	}
	if _, err := New(Options{NodeName: testNode}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no sources: %v", err)
	}
}

func TestStripManagedFields(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	out, err := stripManagedFields(p)
	if err != nil || out.(*corev1.Pod).ManagedFields != nil || out.(*corev1.Pod).Name != "web" {
		t.Fatalf("strip: %v %+v", err, out)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "a/b", Obj: p}
	if out, err := stripManagedFields(tomb); err != nil || out.(cache.DeletedFinalStateUnknown).Key != "a/b" {
		t.Fatalf("tombstone: %v %+v", err, out)
	}
}
