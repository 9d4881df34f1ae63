package metaserver

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"k8s.io/apimachinery/pkg/labels"
)

// TestFootprint stores 100 pods, 100 configmaps and 50 services, serves
// them to a SharedInformerFactory (pods, services, endpointslices, nodes)
// and logs the Go heap and the process RSS. The edge target for edgecore is
// ≤ 35 MB RSS with 100 pods stored; this process also holds the test
// binary, the client and its informer caches, so it overestimates.
func TestFootprint(t *testing.T) {
	e := startEnv(t, "", "", metastoreOpts(), Options{})
	var batch []metastore.Change
	for i := 0; i < 100; i++ {
		batch = append(batch, pod("default", fmt.Sprintf("pod-%d", i), "1", "edge-1", `"app":"x"`))
		batch = append(batch, metastore.Change{Op: metastore.Upsert, Resource: cmR, Namespace: "default",
			Name: fmt.Sprintf("cm-%d", i), CloudRV: "1", Object: []byte(fmt.Sprintf(
				`{"metadata":{"name":"cm-%d","namespace":"default"},"data":{"config.yaml":%q}}`, i, strings.Repeat("key: value\n", 50)))})
	}
	for i := 0; i < 50; i++ {
		batch = append(batch, service("default", fmt.Sprintf("svc-%d", i), "1", fmt.Sprintf("10.96.0.%d", i+10)))
	}
	e.apply(batch...)
	inf := startInformers(t, e.cs)
	pods, _ := inf.factory.Core().V1().Pods().Lister().List(labels.Everything())
	if len(pods) != 100 {
		t.Fatalf("informer has %d pods", len(pods))
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("footprint (store + metaserver + client-go informers in one process) with 100 pods + 100 configmaps + 50 services: "+
		"heap in use %.1f MB, Go sys %.1f MB, process RSS %s", float64(ms.HeapInuse)/1e6, float64(ms.Sys)/1e6, rss())
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
