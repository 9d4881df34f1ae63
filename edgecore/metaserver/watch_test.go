package metaserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type rawEvent struct {
	Type   string `json:"type"`
	Object struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name            string            `json:"name"`
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
		Code int `json:"code"`
	} `json:"object"`
}

func (ev rawEvent) String() string {
	if ev.Type == "BOOKMARK" {
		end := ""
		if ev.Object.Metadata.Annotations[initialEventsEnd] == "true" {
			end = " end"
		}
		return fmt.Sprintf("BOOKMARK %s%s", ev.Object.Metadata.ResourceVersion, end)
	}
	if ev.Type == "ERROR" {
		return fmt.Sprintf("ERROR %d", ev.Object.Code)
	}
	return fmt.Sprintf("%s %s %s", ev.Type, ev.Object.Metadata.Name, ev.Object.Metadata.ResourceVersion)
}

// rawWatch opens a watch with plain HTTP and returns its events on a channel
// closed at the end of the stream.
func rawWatch(t *testing.T, addr, query string) (<-chan rawEvent, *http.Response) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/namespaces/a/pods?watch=true&" + query)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %s", resp.Status)
	}
	ch := make(chan rawEvent, 100)
	go func() { // ends with the stream, which the server ends (timeoutSeconds)
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev rawEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("event %q: %v", sc.Bytes(), err)
				return
			}
			ch <- ev
		}
	}()
	return ch, resp
}

func expectEvents(t *testing.T, ch <-chan rawEvent, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before event %d (%q)", i, w)
			}
			if ev.String() != w {
				t.Fatalf("event %d = %q, want %q", i, ev, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%q) not received", i, w)
		}
	}
}

// TestWatchWire checks the watch wire format: chunked, one event per line,
// initial events, selectors (objects entering and leaving the selection),
// bookmarks and timeoutSeconds.
func TestWatchWire(t *testing.T) {
	e := startEnv(t, "", "", metastoreOpts(), Options{BookmarkInterval: 300 * time.Millisecond})
	e.apply(pod("a", "p1", "1", "n", `"app":"web"`), pod("a", "p2", "2", "n", `"app":"db"`), pod("b", "p3", "3", "n", `"app":"web"`))

	t.Run("initial events, selector, enter and leave", func(t *testing.T) {
		ch, resp := rawWatch(t, e.addr, "labelSelector=app%3Dweb&timeoutSeconds=2")
		if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
			t.Fatalf("Transfer-Encoding = %v, want chunked", te)
		}
		expectEvents(t, ch, "ADDED p1 1")
		e.apply(pod("a", "p2", "10", "n", `"app":"web"`))  // enters the selection
		e.apply(pod("a", "p1", "11", "n", `"app":"db"`))   // leaves it
		e.apply(pod("a", "p1", "12", "n", `"app":"db2"`))  // stays out
		e.apply(pod("b", "p3", "13", "n", `"app":"web2"`)) // other namespace
		e.apply(del(podsR, "a", "p2", "14"))
		expectEvents(t, ch, "ADDED p2 4", "DELETED p1 5", "DELETED p2 8")
		start := time.Now()
		if ev, ok := <-ch; ok { // timeoutSeconds ends the stream
			t.Fatalf("unexpected event %v", ev)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("stream ended %v after the last event, want ≤ timeoutSeconds", d)
		}
	})

	t.Run("sendInitialEvents and bookmarks", func(t *testing.T) {
		rv := fmt.Sprint(e.store.Revision())
		ch, _ := rawWatch(t, e.addr, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=1")
		expectEvents(t, ch, "ADDED p1 6", "BOOKMARK "+rv+" end")
		// Another resource's change moves the bookmark forward.
		e.apply(service("a", "s", "20", "10.96.0.1"))
		expectEvents(t, ch, fmt.Sprintf("BOOKMARK %d", e.store.Revision()))
		for range ch {
		}
	})

	t.Run("resume from a revision", func(t *testing.T) {
		ch, _ := rawWatch(t, e.addr, "resourceVersion=5&timeoutSeconds=1")
		expectEvents(t, ch, "MODIFIED p1 6", "DELETED p2 8")
		for range ch {
		}
	})

	t.Run("field selector", func(t *testing.T) {
		ch, _ := rawWatch(t, e.addr, "fieldSelector=spec.nodeName%3Dn2&resourceVersion="+fmt.Sprint(e.store.Revision())+"&timeoutSeconds=1")
		e.apply(pod("a", "p1", "30", "n2", ""), pod("a", "p1", "31", "n3", ""), pod("a", "p9", "32", "n", ""))
		rev := e.store.Revision()
		expectEvents(t, ch, fmt.Sprintf("ADDED p1 %d", rev-2), fmt.Sprintf("DELETED p1 %d", rev-1))
		for range ch {
		}
	})

	t.Run("compacted while watching", func(t *testing.T) {
		e2 := startEnv(t, "", "", metastore.Options{ChangeLogSize: 3}, Options{WatchBatch: 1})
		e2.apply(pod("a", "x", "1", "n", ""))
		ch, _ := rawWatch(t, e2.addr, "resourceVersion=1&timeoutSeconds=5")
		// Five changes in one batch: the watch reads them one by one and
		// finds the log compacted past it.
		var batch []metastore.Change
		for i := 0; i < 5; i++ {
			batch = append(batch, pod("b", fmt.Sprintf("y%d", i), "1", "n", ""))
		}
		e2.apply(batch...)
		expectEvents(t, ch, "ERROR 410")
		if _, ok := <-ch; ok {
			t.Fatal("stream continued after the ERROR event")
		}
	})
}

// TestOtherResources: a resource the server does not know, with objects in
// the store, is served and discovered.
func TestOtherResources(t *testing.T) {
	e := startEnv(t, "", "", metastoreOpts(), Options{})
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	e.apply(metastore.Change{Op: metastore.Upsert, Resource: widgets, Namespace: "a", Name: "w1", CloudRV: "1",
		Object: []byte(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"a"},"spec":{"size":3}}`)})
	_, lists, err := e.cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range lists {
		for _, r := range l.APIResources {
			if l.GroupVersion == "example.com/v1" && r.Name == "widgets" && r.Kind == "Widget" && r.Namespaced {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("widgets not in discovery")
	}
	resp, err := http.Get("http://" + e.addr + "/apis/example.com/v1/namespaces/a/widgets")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Kind  string
		Items []json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Kind != "WidgetList" || len(l.Items) != 1 {
		t.Fatalf("widgets list = %+v, %v", l, err)
	}
}
