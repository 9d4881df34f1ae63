package edgecontroller

import (
	"context"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/hubproto"
)

// syncMesh brings a connected node's mesh share up to the snapshot: on a new session the
// difference between its Hello inventory and the snapshot, then the log's changes after its
// cursor — the same encoded bytes for every node. A node whose cursor fell out of the log gets
// a scan of the snapshot for everything changed since (tombstones included); one behind the
// forgotten tombstones is disconnected, so that its next Hello says what it holds.
func (c *Controller) syncMesh(ctx context.Context, name string) error {
	st := c.lookup(name)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.session == nil {
		return nil
	}
	self := hubproto.Ref{Resource: resNodes, Name: name}
	if st.meshInit {
		st.meshPending, st.meshCursor = c.mesh.diffInventory(st.meshInv, self)
		st.meshInv, st.meshInit = nil, false
	}
	for {
		if ok, err := c.sendMeshPending(ctx, st); !ok || err != nil {
			return err
		}
		chs, ok := c.mesh.since(st.meshCursor, c.opts.BatchChanges)
		if !ok {
			todo, gen, ok := c.mesh.changedSince(st.meshCursor, self)
			if !ok {
				klog.FromContext(ctx).Info("Mesh cursor behind the forgotten tombstones, closing the session for a resync", "cursor", st.meshCursor)
				c.metrics.meshResyncs.Inc()
				st.session.Close()
				return nil
			}
			c.metrics.meshFallbacks.Inc()
			st.meshPending, st.meshCursor = todo, gen
			continue
		}
		if len(chs) == 0 {
			return nil
		}
		var batch []hubproto.Change
		size, last := 0, st.meshCursor
		for _, ch := range chs {
			if len(batch) > 0 && size+len(ch.obj) > c.opts.BatchBytes {
				break
			}
			last = ch.gen
			if ch.ref == self {
				continue
			}
			batch = append(batch, hubproto.Change{Ref: ch.ref, Op: ch.op, ResourceVersion: ch.rv, Object: ch.obj})
			size += len(ch.obj)
		}
		if len(batch) > 0 {
			if ok, err := c.sendBatch(ctx, st, st.session, batch, true); !ok || err != nil {
				return err
			}
		}
		st.meshCursor = last
	}
}

// sendMeshPending sends st.meshPending in batches with the snapshot's current bytes; false when
// sending must stop for now. st.mu is held.
func (c *Controller) sendMeshPending(ctx context.Context, st *nodeState) (bool, error) {
	for len(st.meshPending) > 0 {
		var batch []hubproto.Change
		size, used := 0, 0
		for _, p := range st.meshPending {
			if len(batch) >= c.opts.BatchChanges {
				break
			}
			ch := hubproto.Change{Ref: p.ref, Op: p.op, ResourceVersion: p.rv}
			if p.op == hubproto.OpUpsert {
				rv, obj, ok := c.mesh.lookup(p.ref)
				if !ok { // deleted since: the log's delete follows
					used++
					continue
				}
				ch.ResourceVersion, ch.Object = rv, obj
			}
			if len(batch) > 0 && size+len(ch.Object) > c.opts.BatchBytes {
				break
			}
			batch = append(batch, ch)
			size += len(ch.Object)
			used++
		}
		if len(batch) > 0 {
			if ok, err := c.sendBatch(ctx, st, st.session, batch, true); !ok || err != nil {
				return ok, err
			}
		}
		clear(st.meshPending[:used])
		st.meshPending = st.meshPending[used:]
	}
	st.meshPending = nil
	return true, nil
}

// minMeshCursor is the lowest cursor of the connected nodes (the snapshot's generation if
// none): tombstones up to it are needed by no one.
func (c *Controller) minMeshCursor() uint64 {
	low := c.mesh.generation()
	for _, st := range c.liveStates() {
		st.mu.Lock()
		if st.session != nil && !st.meshInit {
			low = min(low, st.meshCursor)
		}
		st.mu.Unlock()
	}
	return low
}
