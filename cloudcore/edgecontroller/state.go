package edgecontroller

import (
	"maps"
	"sync"
	"time"

	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/hubproto"
)

// nodeState is what the controller knows of one node's delivery, in memory only: after a
// cloudcore restart the next Hello inventory is the truth.
type nodeState struct {
	mu      sync.Mutex
	session *hub.Session // nil while disconnected
	// held is what the edge holds of its own share (its Node, pods and what they reference,
	// and anything else of its Hello inventory that is not mesh): the inventory plus every
	// acknowledged change.
	held map[hubproto.Ref]string
	// sent is held plus the changes in flight: what the edge will hold. syncNode diffs against it.
	sent map[hubproto.Ref]string
	// inflight are the unacknowledged batches of the session, reduced to the refs and versions
	// of their own-share changes (mesh batches are here with none).
	inflight map[uint64][]hubproto.Change
	// blocked says a sync stopped at a full window: the next ack queues the node.
	blocked bool

	// The mesh share is tracked by a cursor into the shared snapshot, not by a copy of it.
	// meshInv is the Hello inventory's mesh refs until the first mesh sync diffs them against
	// the snapshot (meshInit true until then).
	meshInv  map[hubproto.Ref]string
	meshInit bool
	// meshPending are differences still to send (from that diff or a fallback scan), in order;
	// they are current at meshCursor.
	meshPending []pending
	// meshCursor is the snapshot generation sent up to: later changes come from the log.
	meshCursor uint64
	// meshBlocked says a mesh sync stopped at a full window: the next ack queues it again.
	meshBlocked bool
	// disconnectedAt is when the last session ended (zero while connected).
	disconnectedAt time.Time
	// status are the status frames waiting to be applied, in order.
	status []*statusFrame
}

// statusFrame is one status frame and how far it got.
type statusFrame struct {
	session *hub.Session
	seq     uint64
	updates []hubproto.StatusUpdate
	done    int // updates applied or refused; touched only by the node's status worker
}

func (st *nodeState) connected() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.session != nil
}

// lookup returns node's state, nil if it never connected since start.
func (c *Controller) lookup(node string) *nodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state[node]
}

func (c *Controller) stateFor(node string) *nodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state[node]
	if st == nil {
		st = &nodeState{}
		c.state[node] = st
	}
	return st
}

// startSession resets st to a new session with the edge's inventory; with mesh, the
// inventory's mesh refs wait for the node's first mesh sync.
func (st *nodeState) startSession(s *hub.Session, inventory []hubproto.Held, mesh bool) {
	st.session = s
	st.held = make(map[hubproto.Ref]string)
	st.meshInv = make(map[hubproto.Ref]string)
	for _, h := range inventory {
		if mesh && isMeshRef(h.Ref, s.Node()) {
			st.meshInv[h.Ref] = h.ResourceVersion
		} else {
			st.held[h.Ref] = h.ResourceVersion
		}
	}
	st.sent = maps.Clone(st.held)
	st.inflight = make(map[uint64][]hubproto.Change)
	st.blocked = false
	st.meshInit, st.meshPending, st.meshCursor, st.meshBlocked = mesh, nil, 0, false
	st.disconnectedAt = time.Time{}
	st.dropStatus(func(f *statusFrame) bool { return f.session != s })
}

// ack moves batch seq from in flight to held; false if seq is unknown.
func (st *nodeState) ack(seq uint64) bool {
	batch, ok := st.inflight[seq]
	if !ok {
		return false
	}
	delete(st.inflight, seq)
	for _, ch := range batch {
		if ch.Op == hubproto.OpDelete {
			delete(st.held, ch.Ref)
		} else {
			st.held[ch.Ref] = ch.ResourceVersion
		}
	}
	return true
}

// isMeshRef says whether ref belongs to the mesh share of node (every Service, EndpointSlice
// and other Node) rather than to its own share.
func isMeshRef(ref hubproto.Ref, node string) bool {
	switch ref.Resource {
	case resServices, resEndpointSlices:
		return true
	case resNodes:
		return ref.Name != node
	}
	return false
}

// recordSent notes a batch as in flight; a mesh batch only holds its seq.
func (st *nodeState) recordSent(seq uint64, batch []hubproto.Change, mesh bool) {
	if mesh {
		st.inflight[seq] = nil
		return
	}
	slim := make([]hubproto.Change, len(batch))
	for i, ch := range batch {
		slim[i] = hubproto.Change{Ref: ch.Ref, Op: ch.Op, ResourceVersion: ch.ResourceVersion}
		if ch.Op == hubproto.OpDelete {
			delete(st.sent, ch.Ref)
		} else {
			st.sent[ch.Ref] = ch.ResourceVersion
		}
	}
	st.inflight[seq] = slim
}

// endSession forgets what was in flight: it is sent again next session.
func (st *nodeState) endSession(now time.Time) {
	s := st.session
	st.session = nil
	st.inflight = nil
	st.sent = nil
	st.blocked = false
	st.meshInv, st.meshInit, st.meshPending, st.meshCursor, st.meshBlocked = nil, false, nil, 0, false
	st.disconnectedAt = now
	st.dropStatus(func(f *statusFrame) bool { return f.session == s })
}

func (st *nodeState) dropStatus(drop func(*statusFrame) bool) {
	kept := st.status[:0]
	for _, f := range st.status {
		if !drop(f) {
			kept = append(kept, f)
		}
	}
	clear(st.status[len(kept):])
	st.status = kept
}
