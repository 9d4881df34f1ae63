package edgecontroller

import (
	"slices"
	"sync"

	"github.com/outpostmesh/outpost/hubproto"
)

// meshEntry is one mesh object as every edge gets it, or its tombstone.
type meshEntry struct {
	rv  string
	obj []byte // JSON with apiVersion and kind, encoded once; nil for a tombstone
	gen uint64 // generation of the entry's last change
	// form is a pruned Node's JSON without resourceVersion: a Node update that leaves it equal
	// (a heartbeat) changes nothing downstream.
	form []byte
}

func (e *meshEntry) live() bool { return e != nil && e.obj != nil }

// meshChange is one entry of the change log: the same bytes go to every edge.
type meshChange struct {
	gen uint64
	ref hubproto.Ref
	op  hubproto.Op
	rv  string
	obj []byte // nil for deletes
}

// meshSnapshot is the mesh share every edge gets, shared by all nodes: each object encoded
// once per version, a generation that counts changes, and a bounded log of the last changes.
// A node's delivery state for the mesh is a generation (its cursor), not a copy of the share.
//
// Tombstones (deleted entries) are kept so that a node whose cursor fell out of the log can be
// brought up to date by a scan; they are forgotten once every connected node is past them, or,
// beyond a hard bound, oldest first (tombFloor: a node behind it must resync from a Hello).
type meshSnapshot struct {
	mu        sync.RWMutex
	entries   map[hubproto.Ref]*meshEntry
	tombs     int
	pruneAt   int // tombstones above which the next change prunes them
	tombFloor uint64
	gen       uint64
	log       []meshChange // ring buffer, len ≤ logSize
	head      int          // index of the oldest change once the ring is full
	logSize   int

	// Which Nodes host an endpoint: only those are in the share.
	hosts      map[string]int            // node name → EndpointSlices with an endpoint on it
	sliceNodes map[hubproto.Ref][]string // EndpointSlice → its endpoints' node names, sorted, unique
}

func newMeshSnapshot(logSize int) *meshSnapshot {
	return &meshSnapshot{
		entries:    make(map[hubproto.Ref]*meshEntry),
		logSize:    logSize,
		pruneAt:    logSize,
		hosts:      make(map[string]int),
		sliceNodes: make(map[hubproto.Ref][]string),
	}
}

// upsert records a new version of ref; false if it is the version already held. mu is held.
func (m *meshSnapshot) upsert(ref hubproto.Ref, rv string, obj, form []byte) bool {
	e := m.entries[ref]
	if e.live() && e.rv == rv {
		return false
	}
	if e != nil && !e.live() {
		m.tombs--
	}
	m.gen++
	m.entries[ref] = &meshEntry{rv: rv, obj: obj, gen: m.gen, form: form}
	m.append(meshChange{gen: m.gen, ref: ref, op: hubproto.OpUpsert, rv: rv, obj: obj})
	return true
}

// remove turns ref into a tombstone; false if it is not live. mu is held.
func (m *meshSnapshot) remove(ref hubproto.Ref) bool {
	e := m.entries[ref]
	if !e.live() {
		return false
	}
	m.gen++
	m.tombs++
	m.entries[ref] = &meshEntry{rv: e.rv, gen: m.gen}
	m.append(meshChange{gen: m.gen, ref: ref, op: hubproto.OpDelete, rv: e.rv})
	return true
}

func (m *meshSnapshot) append(ch meshChange) {
	if len(m.log) < m.logSize {
		m.log = append(m.log, ch)
		return
	}
	m.log[m.head] = ch
	m.head = (m.head + 1) % m.logSize
}

// generation is the number of changes so far.
func (m *meshSnapshot) generation() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.gen
}

// since returns up to max changes after generation cursor, oldest first; false if the log no
// longer reaches back to cursor.
func (m *meshSnapshot) since(cursor uint64, max int) ([]meshChange, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if cursor >= m.gen {
		return nil, true
	}
	oldest := m.gen - uint64(len(m.log)) + 1
	if cursor+1 < oldest {
		return nil, false
	}
	n := min(int(m.gen-cursor), max)
	out := make([]meshChange, 0, n)
	skip := int(cursor + 1 - oldest)
	for i := range n {
		out = append(out, m.log[(m.head+skip+i)%len(m.log)])
	}
	return out, true
}

// lookup returns ref's current version; ok is false for tombstones and unknown refs.
func (m *meshSnapshot) lookup(ref hubproto.Ref) (rv string, obj []byte, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.entries[ref]
	if !e.live() {
		return "", nil, false
	}
	return e.rv, e.obj, true
}

// diffInventory lists what brings an edge holding inv (its mesh refs and versions) to the
// share, and the generation the result is current at. self (the edge's own Node) is left out:
// the node's own share sends it whole.
func (m *meshSnapshot) diffInventory(inv map[hubproto.Ref]string, self hubproto.Ref) ([]pending, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []pending
	for ref, e := range m.entries {
		if !e.live() || ref == self {
			continue
		}
		if rv, ok := inv[ref]; !ok || rv != e.rv {
			out = append(out, pending{ref: ref, op: hubproto.OpUpsert, rv: e.rv})
		}
	}
	for ref, rv := range inv {
		if ref == self {
			continue
		}
		if !m.entries[ref].live() {
			out = append(out, pending{ref: ref, op: hubproto.OpDelete, rv: rv})
		}
	}
	sortPending(out)
	return out, m.gen
}

// changedSince lists every entry changed after generation cursor (the fallback when the log
// no longer reaches back that far) and the generation it is current at; false if tombstones
// the node needs were forgotten.
func (m *meshSnapshot) changedSince(cursor uint64, self hubproto.Ref) ([]pending, uint64, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if cursor < m.tombFloor {
		return nil, 0, false
	}
	var out []pending
	for ref, e := range m.entries {
		if e.gen <= cursor || ref == self {
			continue
		}
		op := hubproto.OpUpsert
		if !e.live() {
			op = hubproto.OpDelete
		}
		out = append(out, pending{ref: ref, op: op, rv: e.rv})
	}
	sortPending(out)
	return out, m.gen, true
}

// pruneTombstones forgets the tombstones no connected node needs (generation ≤ minCursor) and,
// above max, the oldest ones.
func (m *meshSnapshot) pruneTombstones(minCursor uint64, max int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gens []uint64
	for ref, e := range m.entries {
		if e.live() {
			continue
		}
		if e.gen <= minCursor {
			delete(m.entries, ref)
			m.tombs--
			continue
		}
		gens = append(gens, e.gen)
	}
	// A lagging node can keep tombstones alive: wait for more before scanning again.
	defer func() { m.pruneAt = m.tombs + m.logSize }()
	if len(gens) <= max {
		return
	}
	slices.Sort(gens)
	floor := gens[len(gens)-max/2-1]
	for ref, e := range m.entries {
		if !e.live() && e.gen <= floor {
			delete(m.entries, ref)
			m.tombs--
		}
	}
	m.tombFloor = floor
}
