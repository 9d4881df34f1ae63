package edgecontroller

import (
	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/hubproto"
)

var _ hub.Handler = (*Controller)(nil)

// Connected starts a node's session from its inventory and queues a full sync.
func (c *Controller) Connected(s *hub.Session, hello *hubproto.Hello) {
	st := c.stateFor(s.Node())
	st.mu.Lock()
	st.startSession(s, hello.Inventory, c.mesh != nil)
	st.mu.Unlock()
	c.setLive(s.Node(), st, true)
	c.queue.Add(s.Node())
	if c.mesh != nil {
		c.meshQueue.Add(s.Node())
	}
}

// Acked records an acknowledged batch and, if a sync waited for the window, queues the node.
func (c *Controller) Acked(s *hub.Session, seq uint64) {
	st := c.stateFor(s.Node())
	st.mu.Lock()
	requeue, requeueMesh := false, false
	if st.session == s && st.ack(seq) {
		c.metrics.acked.Inc()
		requeue, st.blocked = st.blocked, false
		requeueMesh, st.meshBlocked = st.meshBlocked, false
	}
	st.mu.Unlock()
	if requeue {
		c.queue.Add(s.Node())
	}
	if requeueMesh {
		c.meshQueue.Add(s.Node())
	}
}

// Status queues a status frame for the node's status worker.
func (c *Controller) Status(s *hub.Session, seq uint64, updates []hubproto.StatusUpdate) {
	st := c.stateFor(s.Node())
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.session != s {
		return
	}
	if len(st.status) >= c.opts.MaxPendingStatus {
		c.logger.Info("Status queue full, leaving frame unacknowledged", "node", s.Node(), "seq", seq)
		return
	}
	st.status = append(st.status, &statusFrame{session: s, seq: seq, updates: updates})
	c.statusQueue.Add(s.Node())
}

// Disconnected forgets the session's batches in flight and starts the grace period.
func (c *Controller) Disconnected(s *hub.Session, err error) {
	st := c.stateFor(s.Node())
	st.mu.Lock()
	if st.session != s { // replaced: the new session owns the state
		st.mu.Unlock()
		return
	}
	st.endSession(c.clock.Now())
	st.mu.Unlock()
	c.setLive(s.Node(), st, false)
	c.queue.AddAfter(s.Node(), c.opts.GracePeriod)
}

// setLive adds node to or removes it from the nodes a mesh change queues. A removal after a
// new session started is harmless: the mesh sync of a node without session does nothing, and
// Connected adds it back.
func (c *Controller) setLive(node string, st *nodeState, live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if live {
		c.live[node] = st
		return
	}
	st.mu.Lock()
	connected := st.session != nil
	st.mu.Unlock()
	if !connected {
		delete(c.live, node)
	}
}
