package metastore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2/ktesting"
)

var (
	podsR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cmR   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	svcR  = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	nodeR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "meta.db")
	}
	if opts.Logger.GetSink() == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = ktesting.NewLogger(tt, ktesting.NewConfig())
		}
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// podJSON is a typical small pod, without TypeMeta as informers hand it out.
func podJSON(ns, name, rv, node string, labels map[string]string) []byte {
	l := ""
	for k, v := range labels {
		if l != "" {
			l += ","
		}
		l += fmt.Sprintf("%q:%q", k, v)
	}
	return []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"resourceVersion":%q,"uid":"uid-%s","labels":{%s}},`+
		`"spec":{"nodeName":%q,"containers":[{"name":"app","image":"registry.local/app:1.0","ports":[{"containerPort":8080}],`+
		`"resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]},"status":{"phase":"Running","podIP":"10.1.0.7"}}`,
		name, ns, rv, name, l, node))
}

func upsertPod(ns, name, rv string, labels map[string]string) Change {
	return Change{Op: Upsert, Resource: podsR, Namespace: ns, Name: name, CloudRV: rv, Object: podJSON(ns, name, rv, "edge-1", labels)}
}

func mustApply(t testing.TB, s *Store, want int, changes ...Change) {
	t.Helper()
	n, err := s.Apply(context.Background(), changes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if want >= 0 && n != want {
		t.Fatalf("Apply applied %d, want %d", n, want)
	}
}
