package edgecontroller

import (
	"fmt"
	"testing"

	"github.com/outpostmesh/outpost/hubproto"
)

func TestSnapshotLogWrapsAndTombstones(t *testing.T) {
	m := newMeshSnapshot(4)
	svc := func(i int) hubproto.Ref {
		return hubproto.Ref{Resource: resServices, Namespace: ns, Name: fmt.Sprint("s", i)}
	}
	for i := range 10 {
		if !m.upsert(svc(i), fmt.Sprint(i), []byte("{}"), nil) {
			t.Fatalf("upsert %d", i)
		}
	}
	if m.upsert(svc(9), "9", []byte("{}"), nil) {
		t.Fatal("the same version counted as a change")
	}
	if !m.remove(svc(3)) || m.remove(svc(3)) {
		t.Fatal("remove of a live entry, then of a tombstone")
	}
	// gen 11; the log holds 8..11.
	for _, tc := range []struct {
		cursor uint64
		ok     bool
		gens   []uint64
	}{{11, true, nil}, {7, true, []uint64{8, 9, 10, 11}}, {9, true, []uint64{10, 11}}, {6, false, nil}} {
		chs, ok := m.since(tc.cursor, 100)
		var gens []uint64
		for _, c := range chs {
			gens = append(gens, c.gen)
		}
		if ok != tc.ok || fmt.Sprint(gens) != fmt.Sprint(tc.gens) {
			t.Errorf("since(%d) = %v, %v; want %v, %v", tc.cursor, gens, ok, tc.gens, tc.ok)
		}
	}
	if chs, _ := m.since(7, 2); len(chs) != 2 || chs[1].gen != 9 {
		t.Errorf("since(7, max 2) = %+v", chs)
	}
	// The scan for a cursor out of the log: everything changed after it, the tombstone a delete.
	todo, gen, ok := m.changedSince(6, hubproto.Ref{})
	if !ok || gen != 11 || len(todo) != 5 || todo[len(todo)-1].op != hubproto.OpDelete || todo[len(todo)-1].ref != svc(3) {
		t.Errorf("changedSince(6) = %+v, %d, %v", todo, gen, ok)
	}
	// Nobody needs the tombstone: forgotten. One that must be kept raises the floor.
	m.pruneTombstones(11, 10)
	if m.tombs != 0 || len(m.entries) != 9 {
		t.Errorf("after pruning: %d tombstones, %d entries", m.tombs, len(m.entries))
	}
	m.remove(svc(4))
	m.remove(svc(5))
	m.remove(svc(6)) // gens 12, 13, 14
	m.pruneTombstones(0, 2)
	if m.tombs != 1 || m.tombFloor != 13 {
		t.Errorf("hard bound: %d tombstones, floor %d", m.tombs, m.tombFloor)
	}
	if _, _, ok := m.changedSince(12, hubproto.Ref{}); ok {
		t.Error("a cursor behind the floor was served by a scan")
	}
	if todo, _, ok := m.changedSince(13, hubproto.Ref{}); !ok || len(todo) != 1 || todo[0].ref != svc(6) {
		t.Errorf("changedSince(13) = %+v, %v", todo, ok)
	}
}
