package metastore

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func podBatch(n, rv int) []Change {
	out := make([]Change, n)
	for i := range out {
		out[i] = upsertPod(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("pod-%d", i), strconv.Itoa(rv), map[string]string{"app": fmt.Sprintf("app%d", i%20)})
	}
	return out
}

// BenchmarkApply1000Pods applies batches of 1,000 pod updates (one transaction each).
func BenchmarkApply1000Pods(b *testing.B) {
	s := openTest(b, "", Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if n, err := s.Apply(ctx, podBatch(1000, i+1)); err != nil || n != 1000 {
			b.Fatalf("Apply = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "µs/pod")
}

// BenchmarkList1000Pods lists 1,000 stored pods, all and by label selector.
func BenchmarkList1000Pods(b *testing.B) {
	s := openTest(b, "", Options{})
	ctx := context.Background()
	if _, err := s.Apply(ctx, podBatch(1000, 1)); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		sel  labels.Selector
		want int
	}{
		{"all", nil, 1000},
		{"selector", labels.SelectorFromSet(labels.Set{"app": "app3"}), 50},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				items, _, err := s.List(ctx, podsR, "", bc.sel)
				if err != nil || len(items) != bc.want {
					b.Fatalf("List = %d, %v", len(items), err)
				}
			}
		})
	}
}

// TestFootprint stores 100 pods, 100 configmaps and 50 services and logs
// the Go heap and the process RSS (edge target for edgecore: ≤ 35 MB with
// 100 pods stored). The RSS includes the test binary itself.
func TestFootprint(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", Options{})
	var batch []Change
	for i := 0; i < 100; i++ {
		batch = append(batch, upsertPod("default", fmt.Sprintf("pod-%d", i), "1", map[string]string{"app": "x"}))
		cm := fmt.Sprintf(`{"metadata":{"name":"cm-%d","namespace":"default"},"data":{"config.yaml":%q}}`, i, strings.Repeat("k: v\n", 100))
		batch = append(batch, Change{Op: Upsert, Resource: cmR, Namespace: "default", Name: fmt.Sprintf("cm-%d", i), CloudRV: "1", Object: []byte(cm)})
	}
	for i := 0; i < 50; i++ {
		svc := fmt.Sprintf(`{"metadata":{"name":"svc-%d","namespace":"default"},"spec":{"clusterIP":"10.96.0.%d","ports":[{"port":80,"targetPort":8080}],"selector":{"app":"x"}}}`, i, i+10)
		batch = append(batch, Change{Op: Upsert, Resource: svcR, Namespace: "default", Name: fmt.Sprintf("svc-%d", i), CloudRV: "1", Object: []byte(svc)})
	}
	mustApply(t, s, 250, batch...)
	if items, _, err := s.List(ctx, podsR, "", nil); err != nil || len(items) != 100 {
		t.Fatalf("List = %d, %v", len(items), err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("footprint with 100 pods + 100 configmaps + 50 services: heap in use %.1f MB, Go sys %.1f MB, process RSS %s",
		float64(ms.HeapInuse)/1e6, float64(ms.Sys)/1e6, rss())
}

// rss returns the process's resident set size from /proc (Linux), or "n/a".
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
