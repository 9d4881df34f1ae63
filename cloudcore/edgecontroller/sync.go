package edgecontroller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/hubproto"
)

// syncNode brings a connected node from what it holds (or will hold) of its own share to its
// desired set, or watches the grace period of a disconnected one. The mesh share has its own
// path (syncMesh).
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	switch {
	case apierrors.IsNotFound(err):
		node = nil
	case err != nil:
		return err
	case !isEdge(node):
		node = nil
	}
	st := c.lookup(name)
	if st == nil || !st.connected() {
		return c.checkHealth(ctx, name, node, st)
	}
	want, err := c.desired(name, node)
	if err != nil {
		return fmt.Errorf("edgecontroller: desired set of %s: %w", name, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.session == nil {
		return nil
	}
	return c.send(ctx, st, diff(st.sent, want), want)
}

// pending is one change to make, its object still unencoded.
type pending struct {
	ref hubproto.Ref
	op  hubproto.Op
	rv  string
}

// diff lists the upserts (missing or other versions) and deletes (held, no longer desired)
// that bring sent to want, ordered by sortPending.
func diff(sent map[hubproto.Ref]string, want desiredSet) []pending {
	var out []pending
	for ref, obj := range want {
		if rv := resourceVersion(obj); sent[ref] != rv || !has(sent, ref) {
			out = append(out, pending{ref: ref, op: hubproto.OpUpsert, rv: rv})
		}
	}
	for ref, rv := range sent {
		if _, ok := want[ref]; !ok {
			if _, managed := kinds[ref.Resource]; managed {
				out = append(out, pending{ref: ref, op: hubproto.OpDelete, rv: rv})
			}
		}
	}
	sortPending(out)
	return out
}

// sortPending orders changes so that referenced objects come before their pods and pods go
// before what they reference (upserts first).
func sortPending(out []pending) {
	slices.SortFunc(out, func(a, b pending) int {
		if a.op != b.op {
			return strings.Compare(string(b.op), string(a.op)) // upserts first
		}
		pa, pb := order[a.ref.Resource], order[b.ref.Resource]
		if a.op == hubproto.OpDelete {
			pa, pb = -pa, -pb
		}
		if pa != pb {
			return pa - pb
		}
		return strings.Compare(a.ref.Namespace+"/"+a.ref.Name, b.ref.Namespace+"/"+b.ref.Name)
	})
}

func has(m map[hubproto.Ref]string, ref hubproto.Ref) bool { _, ok := m[ref]; return ok }

// order puts what pods reference before pods.
var order = map[string]int{
	resNodes: 0, resServices: 1, resEndpointSlices: 2, resAccounts: 3, resConfigMaps: 4, resSecrets: 5, resPods: 6,
}

// send encodes todo into batches and sends them until done or the window is full. st.mu is held.
func (c *Controller) send(ctx context.Context, st *nodeState, todo []pending, want desiredSet) error {
	logger := klog.FromContext(ctx)
	s := st.session
	var batch []hubproto.Change
	size := 0
	flush := func() (bool, error) {
		if len(batch) == 0 {
			return true, nil
		}
		ok, err := c.sendBatch(ctx, st, s, batch, false)
		batch, size = batch[:0:0], 0
		return ok, err
	}
	for _, p := range todo {
		ch := hubproto.Change{Ref: p.ref, Op: p.op, ResourceVersion: p.rv}
		if p.op == hubproto.OpUpsert {
			b, err := encodeObject(p.ref.Resource, want[p.ref])
			if err != nil {
				logger.Error(err, "Cannot encode object, skipping", "ref", p.ref)
				continue
			}
			ch.Object = b
		}
		if len(batch) > 0 && (len(batch) >= c.opts.BatchChanges || size+len(ch.Object) > c.opts.BatchBytes) {
			if ok, err := flush(); !ok || err != nil {
				return err
			}
		}
		batch = append(batch, ch)
		size += len(ch.Object)
	}
	_, err := flush()
	return err
}

// sendBatch sends one batch of the own share or (mesh) of the mesh share; false when sending
// must stop for now (window full, session gone). st.mu is held.
func (c *Controller) sendBatch(ctx context.Context, st *nodeState, s *hub.Session, batch []hubproto.Change, mesh bool) (bool, error) {
	seq, err := s.TrySend(batch)
	switch {
	case err == nil:
		st.recordSent(seq, batch, mesh)
		c.metrics.batches.Inc()
		for _, ch := range batch {
			c.metrics.changes.WithLabelValues(string(ch.Op)).Inc()
		}
		return true, nil
	case errors.Is(err, hub.ErrWindowFull):
		if mesh {
			st.meshBlocked = true
		} else {
			st.blocked = true
		}
		c.metrics.windowHit.Inc()
		return false, nil
	case errors.Is(err, hub.ErrSessionClosed):
		return false, nil
	case errors.Is(err, hub.ErrBatchTooLarge) && len(batch) > 1:
		for i := range batch {
			if ok, err := c.sendBatch(ctx, st, s, batch[i:i+1], mesh); !ok || err != nil {
				return ok, err
			}
		}
		return true, nil
	case errors.Is(err, hub.ErrBatchTooLarge):
		// One object above a frame: it can never go. Note it as sent so it is not retried
		// until it changes (a mesh cursor just moves past it).
		klog.FromContext(ctx).Error(err, "Object too large for a sync frame, not sent", "ref", batch[0].Ref)
		c.metrics.dropped.Inc()
		if !mesh {
			st.sent[batch[0].Ref] = batch[0].ResourceVersion
		}
		return true, nil
	}
	return false, fmt.Errorf("edgecontroller: send to %s: %w", s.Node(), err)
}

// encodeObject is obj's JSON with apiVersion and kind (a copy: cached objects are not touched).
func encodeObject(resource string, obj runtime.Object) ([]byte, error) {
	cp := obj.DeepCopyObject()
	cp.GetObjectKind().SetGroupVersionKind(kinds[resource])
	b, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("edgecontroller: encode %s: %w", resource, err)
	}
	return b, nil
}
