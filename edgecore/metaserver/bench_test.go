package metaserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// BenchmarkListPods lists 1,000 pods over HTTP: raw (server cost plus
// transfer) and through a client-go Clientset (plus decoding).
func BenchmarkListPods(b *testing.B) {
	e := startEnv(b, "", "", metastoreOpts(), Options{})
	var batch []metastore.Change
	for i := 0; i < 1000; i++ {
		batch = append(batch, pod(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("pod-%d", i), "1", fmt.Sprintf("edge-%d", i%4), `"app":"x"`))
	}
	if _, err := e.store.Apply(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, q := range []string{"", "?labelSelector=app%3Dx", "?fieldSelector=spec.nodeName%3Dedge-1"} {
		b.Run("raw"+q, func(b *testing.B) {
			for b.Loop() {
				resp, err := client.Get("http://" + e.addr + "/api/v1/pods" + q)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	cfg := rest.CopyConfig(e.cfg)
	cfg.QPS = -1 // no client-side rate limit: measure the server and decoding
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("clientset", func(b *testing.B) {
		for b.Loop() {
			l, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
			if err != nil || len(l.Items) != 1000 {
				b.Fatal(err)
			}
		}
	})
}
