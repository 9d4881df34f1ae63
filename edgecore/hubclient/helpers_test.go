package hubclient

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/pki"
)

var (
	podsR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cmR   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// edge is a client over a real meta store in t.TempDir(), running until the test ends.
type edge struct {
	client *Client
	store  *metastore.Store
	hub    *testHub
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newEdge(t *testing.T, mod func(*Options)) *edge {
	t.Helper()
	ca, err := pki.NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	hub := newTestHub(t, ca)
	store, err := metastore.Open(filepath.Join(t.TempDir(), "meta.db"), metastore.Options{Logger: ktesting.NewLogger(t, ktesting.NewConfig())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	testCAs.Store(hub.url(), ca)
	opts := Options{
		HubURL:         hub.url(),
		NodeName:       "edge-1",
		TLSConfig:      clientTLS(t, ca, "edge-1"),
		Store:          store,
		Logger:         ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(4))),
		InitialBackoff: 10 * time.Millisecond,
		MaxBackoff:     50 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &edge{client: c, store: store, hub: hub}
}

// start runs the client until the test ends (Close first, then the hub's cleanup).
func (e *edge) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Go(func() {
		if err := e.client.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(e.stop)
}

func (e *edge) stop() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
}

func podObject(name, rv string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ns","resourceVersion":%q},"spec":{"nodeName":"edge-1"}}`, name, rv))
}

func cmObject(name, rv string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ns","resourceVersion":%q},"data":{"k":"v"}}`, name, rv))
}

func upsert(resource, name, rv string, obj json.RawMessage) hubproto.Change {
	return hubproto.Change{Ref: hubproto.Ref{Resource: resource, Namespace: "ns", Name: name}, Op: hubproto.OpUpsert, ResourceVersion: rv, Object: obj}
}

func held(t *testing.T, h *hubproto.Hello) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, x := range h.Inventory {
		out[x.Resource+"/"+x.Namespace+"/"+x.Name] = x.ResourceVersion
	}
	return out
}

func wantAck(t *testing.T, s *hubSession, seq uint64) {
	t.Helper()
	f := s.recv(t)
	if f == nil || f.Type != hubproto.TypeAck || f.Seq != seq {
		t.Fatalf("edge sent %+v, want ack %d", f, seq)
	}
}

func has(t *testing.T, st *metastore.Store, r schema.GroupVersionResource, name string) bool {
	t.Helper()
	_, err := st.Get(context.Background(), r, "ns", name)
	return err == nil
}

// testCAs maps a test hub's URL to its CA, for option modifiers that need it.
var testCAs sync.Map

func caOf(t *testing.T, o *Options) *pki.CA {
	t.Helper()
	ca, ok := testCAs.Load(o.HubURL)
	if !ok {
		t.Fatal("no CA for", o.HubURL)
	}
	return ca.(*pki.CA)
}
