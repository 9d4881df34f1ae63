// Command footprint measures the resident memory of a process holding only
// the meta store and the metaserver with 100 pods, 100 configmaps and 50
// services, after serving lists and watches of them. Run it with
//
//	go run ./edgecore/metaserver/testdata/footprint
//
// (testdata keeps it out of ./... builds and tests).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metaserver"
	"github.com/outpostmesh/outpost/edgecore/metastore"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	base := rss()
	dir, err := os.MkdirTemp("", "footprint")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := metastore.Open(filepath.Join(dir, "meta.db"), metastore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	core := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Version: "v1", Resource: r}
	}
	var batch []metastore.Change
	for i := 0; i < 100; i++ {
		batch = append(batch, metastore.Change{Op: metastore.Upsert, Resource: core("pods"), Namespace: "default", Name: fmt.Sprintf("pod-%d", i), CloudRV: "1",
			Object: []byte(fmt.Sprintf(`{"metadata":{"name":"pod-%d","namespace":"default","labels":{"app":"x"}},"spec":{"nodeName":"edge-1",`+
				`"containers":[{"name":"app","image":"registry.local/app:1.0","ports":[{"containerPort":8080}]}]},"status":{"phase":"Running"}}`, i))})
		batch = append(batch, metastore.Change{Op: metastore.Upsert, Resource: core("configmaps"), Namespace: "default", Name: fmt.Sprintf("cm-%d", i), CloudRV: "1",
			Object: []byte(fmt.Sprintf(`{"metadata":{"name":"cm-%d","namespace":"default"},"data":{"config.yaml":%q}}`, i, strings.Repeat("key: value\n", 50)))})
	}
	for i := 0; i < 50; i++ {
		batch = append(batch, metastore.Change{Op: metastore.Upsert, Resource: core("services"), Namespace: "default", Name: fmt.Sprintf("svc-%d", i), CloudRV: "1",
			Object: []byte(fmt.Sprintf(`{"metadata":{"name":"svc-%d","namespace":"default"},"spec":{"clusterIP":"10.96.0.%d","ports":[{"port":80}]}}`, i, i+10))})
	}
	if _, err := st.Apply(context.Background(), batch); err != nil {
		return err
	}
	srv, err := metaserver.New(metaserver.Options{Store: st})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 5; i++ {
		for _, p := range []string{"/api/v1/pods", "/api/v1/configmaps", "/api/v1/services", "/api/v1/pods?watch=1&timeoutSeconds=1"} {
			resp, err := client.Get("http://" + ln.Addr().String() + p)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("store + metaserver with 100 pods, 100 configmaps, 50 services: RSS %s (at start %s), heap in use %.1f MB, Go sys %.1f MB\n",
		rss(), base, float64(ms.HeapInuse)/1e6, float64(ms.Sys)/1e6)
	client.CloseIdleConnections()
	cancel()
	return <-done
}

func rss() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
