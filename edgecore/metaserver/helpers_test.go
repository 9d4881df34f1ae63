package metaserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2/ktesting"
)

var (
	podsR   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	svcR    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	nodesR  = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	cmR     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	slicesR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

// env is a metaserver on 127.0.0.1 over a store file, with a clientset
// built from a kubeconfig that points at it.
type env struct {
	t     testing.TB
	path  string
	store *metastore.Store
	srv   *Server
	addr  string
	cs    *kubernetes.Clientset
	cfg   *rest.Config

	cancel context.CancelFunc
	done   chan error
}

// startEnv opens the store at path (a new file if empty) and serves it on
// addr ("" for 127.0.0.1:0). Stopped at the end of the test.
func startEnv(t testing.TB, path, addr string, sopts metastore.Options, opts Options) *env {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "meta.db")
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	logger := ktesting.NewLogger(t, ktesting.NewConfig())
	sopts.Logger, opts.Logger = logger, logger
	st, err := metastore.Open(path, sopts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // the old listener on a reused address may still linger
		if ln, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, path: path, store: st, srv: srv, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Serve(ctx, ln) }()
	e.cfg = kubeconfig(t, e.addr)
	if e.cs, err = kubernetes.NewForConfig(e.cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.stop)
	return e
}

// stop shuts the server down and closes the store; idempotent.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	e.cancel = nil
	if err := e.store.Close(); err != nil {
		e.t.Errorf("store Close: %v", err)
	}
}

// kubeconfig writes a plain kubeconfig for http://addr and loads it as
// client-go does.
func kubeconfig(t testing.TB, addr string) *rest.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster:
    server: http://%s
contexts:
- name: edge
  context:
    cluster: edge
    user: local
users:
- name: local
  user: {}
current-context: edge
`, addr)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (e *env) apply(changes ...metastore.Change) {
	e.t.Helper()
	if _, err := e.store.Apply(context.Background(), changes); err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
}

func pod(ns, name, rv, node string, labels string) metastore.Change {
	return metastore.Change{Op: metastore.Upsert, Resource: podsR, Namespace: ns, Name: name, CloudRV: rv,
		Object: []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"uid":"uid-%s","labels":{%s}},`+
			`"spec":{"nodeName":%q,"containers":[{"name":"app","image":"app:1"}]},"status":{"phase":"Running"}}`,
			name, ns, name, labels, node))}
}

func service(ns, name, rv, ip string) metastore.Change {
	return metastore.Change{Op: metastore.Upsert, Resource: svcR, Namespace: ns, Name: name, CloudRV: rv,
		Object: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":%q,"namespace":%q},`+
			`"spec":{"clusterIP":%q,"ports":[{"name":"http","port":80,"protocol":"TCP"}]}}`, name, ns, ip))}
}

func node(name, rv string, unschedulable bool) metastore.Change {
	return metastore.Change{Op: metastore.Upsert, Resource: nodesR, Name: name, CloudRV: rv,
		Object: []byte(fmt.Sprintf(`{"metadata":{"name":%q,"labels":{"kubernetes.io/hostname":%q}},"spec":{"unschedulable":%t}}`,
			name, name, unschedulable))}
}

func slice(ns, name, svc, rv, ip string) metastore.Change {
	return metastore.Change{Op: metastore.Upsert, Resource: slicesR, Namespace: ns, Name: name, CloudRV: rv,
		Object: []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"labels":{"kubernetes.io/service-name":%q}},`+
			`"addressType":"IPv4","endpoints":[{"addresses":[%q],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080}]}`,
			name, ns, svc, ip))}
}

func del(r schema.GroupVersionResource, ns, name, rv string) metastore.Change {
	return metastore.Change{Op: metastore.Delete, Resource: r, Namespace: ns, Name: name, CloudRV: rv}
}

// eventually polls cond until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metastoreOpts are the store options of most tests.
func metastoreOpts() metastore.Options { return metastore.Options{} }
