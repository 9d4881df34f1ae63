package metastore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func TestApplyGetListDelete(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", Options{})
	mustApply(t, s, 3,
		upsertPod("a", "p1", "10", map[string]string{"app": "web"}),
		upsertPod("a", "p2", "11", map[string]string{"app": "db"}),
		upsertPod("b", "p3", "12", map[string]string{"app": "web"}),
	)
	if got := s.Revision(); got != 3 {
		t.Fatalf("Revision = %d, want 3", got)
	}
	o, err := s.Get(ctx, podsR, "a", "p2")
	if err != nil {
		t.Fatal(err)
	}
	var pod struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace, ResourceVersion string }
	}
	if err := json.Unmarshal(o.Data, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" || pod.Metadata.ResourceVersion != "2" || o.Revision != 2 || o.CloudRV != "11" {
		t.Fatalf("Get = %+v (%+v), want kind Pod, apiVersion v1, local RV 2, cloud RV 11", pod, o)
	}

	all, rev, err := s.List(ctx, podsR, "", nil)
	if err != nil || len(all) != 3 || rev != 3 {
		t.Fatalf("List all = %d items rev %d err %v, want 3 items rev 3", len(all), rev, err)
	}
	inA, _, _ := s.List(ctx, podsR, "a", nil)
	if len(inA) != 2 || inA[0].Name != "p1" || inA[1].Name != "p2" {
		t.Fatalf("List a = %v", names(inA))
	}
	web, _, _ := s.List(ctx, podsR, "", labels.SelectorFromSet(labels.Set{"app": "web"}))
	if got := names(web); len(got) != 2 || got[0] != "p1" || got[1] != "p3" {
		t.Fatalf("List app=web = %v", got)
	}
	none, _, _ := s.List(ctx, cmR, "", nil)
	if len(none) != 0 {
		t.Fatalf("List configmaps = %v", names(none))
	}

	mustApply(t, s, 1, Change{Op: Delete, Resource: podsR, Namespace: "a", Name: "p1", CloudRV: "13"})
	if _, err := s.Get(ctx, podsR, "a", "p1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted = %v, want ErrNotFound", err)
	}
	mustApply(t, s, 0, Change{Op: Delete, Resource: podsR, Namespace: "a", Name: "p1"}) // absent: no-op

	evs, _, err := s.Changes(ctx, podsR, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []EventType
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if len(evs) != 4 || evs[3].Type != Deleted || evs[3].Revision != 4 || evs[3].Prev == nil {
		t.Fatalf("Changes = %v", types)
	}
	var final struct {
		Metadata struct{ ResourceVersion string }
	}
	json.Unmarshal(evs[3].Object, &final)
	if final.Metadata.ResourceVersion != "4" {
		t.Fatalf("deleted object RV = %q, want the delete's revision 4", final.Metadata.ResourceVersion)
	}
	v, err := s.Versions(ctx)
	if err != nil || len(v) != 2 || v[Key{Resource: podsR, Namespace: "b", Name: "p3"}] != "12" {
		t.Fatalf("Versions = %v, %v", v, err)
	}
	ri, err := s.Resources(ctx)
	if err != nil || len(ri) != 1 || ri[0].Kind != "Pod" || !ri[0].Namespaced || ri[0].Count != 2 || ri[0].Resource != podsR {
		t.Fatalf("Resources = %+v, %v", ri, err)
	}
}

func TestIdempotentAndOlder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", Options{})
	batch := []Change{upsertPod("a", "p1", "10", nil), upsertPod("a", "p2", "20", nil)}
	mustApply(t, s, 2, batch...)
	mustApply(t, s, 0, batch...) // the same batch again
	if s.Revision() != 2 {
		t.Fatalf("Revision = %d after a replay, want 2", s.Revision())
	}
	mustApply(t, s, 0, upsertPod("a", "p1", "9", map[string]string{"old": "yes"}))
	// Compared as integers, not strings: "100" > "99".
	mustApply(t, s, 1, upsertPod("a", "p2", "100", nil))
	mustApply(t, s, 0, upsertPod("a", "p2", "99", nil))
	// A stale delete (older than the stored object) is skipped.
	mustApply(t, s, 0, Change{Op: Delete, Resource: podsR, Namespace: "a", Name: "p2", CloudRV: "50"})
	// CloudRV defaults to the object's own resourceVersion.
	c := upsertPod("a", "p1", "8", nil)
	c.CloudRV = ""
	mustApply(t, s, 0, c)
	o, err := s.Get(ctx, podsR, "a", "p1")
	if err != nil || o.CloudRV != "10" {
		t.Fatalf("p1 = %+v, %v; want cloud RV 10", o, err)
	}
	// Two versions of one object in one batch: both apply, in order.
	mustApply(t, s, 2, upsertPod("a", "p1", "200", nil), upsertPod("a", "p1", "201", nil))
	if o, _ := s.Get(ctx, podsR, "a", "p1"); o.CloudRV != "201" || o.Revision != s.Revision() {
		t.Fatalf("p1 = %+v, want cloud RV 201 at revision %d", o, s.Revision())
	}
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openTest(t, path, Options{})
	mustApply(t, s, 2, upsertPod("a", "p1", "1", nil), upsertPod("a", "p2", "2", nil))
	before, rev, _ := s.List(ctx, podsR, "", nil)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (the store holds Secrets)", f, fi.Mode().Perm())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, podsR, "a", "p1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Apply(ctx, []Change{upsertPod("a", "p3", "3", nil)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close = %v, want ErrClosed", err)
	}

	s2 := openTest(t, path, Options{})
	after, rev2, err := s2.List(ctx, podsR, "", nil)
	if err != nil || rev2 != rev || len(after) != len(before) {
		t.Fatalf("after reopen: %d items rev %d (%v); before %d items rev %d", len(after), rev2, err, len(before), rev)
	}
	for i := range before {
		if string(before[i].Data) != string(after[i].Data) {
			t.Fatalf("item %d differs after reopen", i)
		}
	}
	mustApply(t, s2, 1, upsertPod("a", "p3", "3", nil))
	if s2.Revision() != rev+1 {
		t.Fatalf("Revision after reopen + apply = %d, want %d", s2.Revision(), rev+1)
	}
	evs, _, err := s2.Changes(ctx, podsR, rev, 0)
	if err != nil || len(evs) != 1 || evs[0].Name != "p3" {
		t.Fatalf("Changes since %d after reopen = %v, %v", rev, evs, err)
	}
}

func TestCompaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", Options{ChangeLogSize: 5})
	for i := 1; i <= 12; i++ {
		mustApply(t, s, 1, upsertPod("a", "p", strconv.Itoa(i), nil))
	}
	if c, _ := s.Compacted(ctx); c != 7 {
		t.Fatalf("Compacted = %d, want 7", c)
	}
	for _, since := range []int64{0, 6} {
		if _, _, err := s.Changes(ctx, podsR, since, 0); !errors.Is(err, ErrCompacted) {
			t.Fatalf("Changes since %d = %v, want ErrCompacted", since, err)
		}
	}
	evs, _, err := s.Changes(ctx, podsR, 7, 0)
	if err != nil || len(evs) != 5 || evs[0].Revision != 8 {
		t.Fatalf("Changes since 7 = %d events, %v", len(evs), err)
	}
	if _, _, err := s.Changes(ctx, podsR, 13, 0); !errors.Is(err, ErrFutureRevision) {
		t.Fatalf("Changes since 13 = %v, want ErrFutureRevision", err)
	}
	evs, upTo, err := s.Changes(ctx, podsR, 7, 2)
	if err != nil || len(evs) != 2 || evs[1].Revision != 9 || upTo != 9 {
		t.Fatalf("Changes since 7 limit 2 = %d events up to %d, %v", len(evs), upTo, err)
	}
	// Changes of another resource still move the reader forward.
	evs, upTo, err = s.Changes(ctx, cmR, 7, 0)
	if err != nil || len(evs) != 0 || upTo != 12 {
		t.Fatalf("Changes of configmaps since 7 = %d events up to %d, %v; want none up to 12", len(evs), upTo, err)
	}
}

func TestBadInputRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", Options{})
	mustApply(t, s, 1, upsertPod("a", "keep", "1", nil))
	good := upsertPod("a", "new", "2", nil)
	for name, bad := range map[string]Change{
		"malformed json":  {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: []byte(`{"metadata":`)},
		"not an object":   {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: []byte(`[1,2]`)},
		"null":            {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: []byte(`null`)},
		"no object":       {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x"},
		"name mismatch":   {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: podJSON("a", "y", "3", "n", nil)},
		"ns mismatch":     {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: podJSON("b", "x", "3", "n", nil)},
		"bad labels":      {Op: Upsert, Resource: podsR, Namespace: "a", Name: "x", Object: []byte(`{"metadata":{"labels":{"a":1}}}`)},
		"unknown kind":    {Op: Upsert, Resource: podsR.GroupResource().WithVersion("v9"), Name: "x", Object: []byte(`{}`)},
		"empty name":      {Op: Upsert, Resource: podsR, Namespace: "a", Object: podJSON("a", "", "3", "n", nil)},
		"no resource":     {Op: Upsert, Namespace: "a", Name: "x", Object: podJSON("a", "x", "3", "n", nil)},
		"unknown op":      {Op: 7, Resource: podsR, Namespace: "a", Name: "x"},
		"bad delete body": {Op: Delete, Resource: podsR, Namespace: "a", Name: "keep", Object: []byte(`{`)},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := s.Apply(ctx, []Change{good, bad})
			if !errors.Is(err, ErrInvalidChange) || n != 0 {
				t.Fatalf("Apply = %d, %v; want 0, ErrInvalidChange", n, err)
			}
			t.Logf("error: %v", err)
			items, rev, _ := s.List(ctx, podsR, "", nil)
			if len(items) != 1 || rev != 1 {
				t.Fatalf("after a refused batch: %v at rev %d, want [keep] at 1", names(items), rev)
			}
		})
	}
	// A kind given in the object is kept even for resources KindFor does not know.
	cr := Change{Op: Upsert, Resource: podsR.GroupResource().WithVersion("v9"), Name: "x",
		Object: []byte(`{"apiVersion":"v9","kind":"Thing","metadata":{"name":"x"}}`)}
	mustApply(t, s, 1, cr)
}

func TestNotify(t *testing.T) {
	s := openTest(t, "", Options{})
	ch := s.Notify()
	select {
	case <-ch:
		t.Fatal("Notify fired before any change")
	default:
	}
	mustApply(t, s, 0) // empty batch: nothing
	mustApply(t, s, 1, upsertPod("a", "p", "1", nil))
	<-ch
	ch = s.Notify()
	mustApply(t, s, 0, upsertPod("a", "p", "1", nil)) // skipped: no wake-up
	select {
	case <-ch:
		t.Fatal("Notify fired for a skipped change")
	default:
	}
	s.Close()
	<-ch // Close wakes waiters
	<-s.Notify()
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open(\"\") = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{ChangeLogSize: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open(ChangeLogSize -1) = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func names(objs []Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}
