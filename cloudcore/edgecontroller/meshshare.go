package edgecontroller

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/outpostmesh/outpost/hubproto"
)

// The mesh share is what the mesh agent reads (edgemesh/view): every Service, every
// EndpointSlice, and the Nodes that host an endpoint, pruned to what view.NodeFromAPI uses
// (name, labels, addresses) plus the identity the edge store keeps (uid, creationTimestamp,
// resourceVersion). A pruned Node keeps the resourceVersion of the last change to its pruned
// form, so Node heartbeats (conditions, lease, images) reach no other edge.

// prunedNode is n's mesh form with resourceVersion rv.
func prunedNode(n *corev1.Node, rv string) *corev1.Node {
	p := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, UID: n.UID, Labels: n.Labels, CreationTimestamp: n.CreationTimestamp, ResourceVersion: rv,
	}}
	p.Status.Addresses = n.Status.Addresses
	return p
}

// encodeMesh encodes obj for the snapshot (once per object version) and counts it.
func (c *Controller) encodeMesh(resource string, obj runtime.Object) ([]byte, error) {
	c.metrics.meshEncoded.Inc()
	return encodeObject(resource, obj)
}

// meshObject records a Service or EndpointSlice version (or its deletion). For slices it also
// updates which Nodes host endpoints.
func (c *Controller) meshObject(resource string, obj any, deleted bool) {
	ref, ok := refOf(resource, obj)
	if !ok {
		return
	}
	m := c.mesh
	m.mu.Lock()
	changed := false
	var nodes []string
	if resource == resEndpointSlices {
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && !deleted {
			nodes = endpointNodes(s)
		}
		changed = c.setSliceNodes(ref, nodes) || changed
	}
	if deleted {
		changed = m.remove(ref) || changed
	} else if rt, ok := obj.(runtime.Object); ok {
		rv := resourceVersion(rt)
		if e := m.entries[ref]; !e.live() || e.rv != rv {
			if b, err := c.encodeMesh(resource, rt); err != nil {
				c.logger.Error(err, "Cannot encode mesh object, skipping", "ref", ref)
			} else {
				changed = m.upsert(ref, rv, b, nil) || changed
			}
		}
	}
	prune := m.tombs > m.pruneAt
	m.mu.Unlock()
	c.meshChanged(changed, prune)
}

// meshNode records a Node add/update/delete: only a Node hosting an endpoint is in the share,
// and only a change of its pruned form is a change.
func (c *Controller) meshNode(obj any, deleted bool) {
	ref, ok := refOf(resNodes, obj)
	if !ok {
		return
	}
	m := c.mesh
	m.mu.Lock()
	var changed bool
	if deleted {
		changed = m.remove(ref)
	} else if n, ok := obj.(*corev1.Node); ok && m.hosts[n.Name] > 0 {
		changed = c.putNode(n)
	}
	prune := m.tombs > m.pruneAt
	m.mu.Unlock()
	c.meshChanged(changed, prune)
}

// putNode records hosting node n's pruned form if it changed. mesh.mu is held.
func (c *Controller) putNode(n *corev1.Node) bool {
	m := c.mesh
	ref := hubproto.Ref{Resource: resNodes, Name: n.Name}
	form, err := json.Marshal(prunedNode(n, ""))
	if err != nil {
		c.logger.Error(err, "Cannot encode pruned node", "node", n.Name)
		return false
	}
	e := m.entries[ref]
	if e.live() && (bytes.Equal(e.form, form) || !newerRV(n.ResourceVersion, e.rv)) {
		// A heartbeat, or an event older than what a slice handler already read from the
		// cache: the version an edge holds must never go back.
		return false
	}
	b, err := c.encodeMesh(resNodes, prunedNode(n, n.ResourceVersion))
	if err != nil {
		c.logger.Error(err, "Cannot encode pruned node", "node", n.Name)
		return false
	}
	return m.upsert(ref, n.ResourceVersion, b, form)
}

// setSliceNodes makes nodes the hosts of slice ref: Nodes that start hosting enter the share,
// Nodes that stop leave it. mesh.mu is held.
func (c *Controller) setSliceNodes(ref hubproto.Ref, nodes []string) bool {
	m := c.mesh
	old := m.sliceNodes[ref]
	if slices.Equal(old, nodes) {
		return false
	}
	if len(nodes) == 0 {
		delete(m.sliceNodes, ref)
	} else {
		m.sliceNodes[ref] = nodes
	}
	changed := false
	for _, name := range nodes {
		if slices.Contains(old, name) {
			continue
		}
		if m.hosts[name]++; m.hosts[name] == 1 {
			if n, err := c.nodes.Get(name); err == nil {
				changed = c.putNode(n) || changed
			}
		}
	}
	for _, name := range old {
		if slices.Contains(nodes, name) {
			continue
		}
		if m.hosts[name]--; m.hosts[name] <= 0 {
			delete(m.hosts, name)
			changed = m.remove(hubproto.Ref{Resource: resNodes, Name: name}) || changed
		}
	}
	return changed
}

// endpointNodes are the node names of s's endpoints, sorted and unique.
func endpointNodes(s *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, e := range s.Endpoints {
		if e.NodeName != nil && *e.NodeName != "" {
			out = append(out, *e.NodeName)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// meshChanged queues every connected node's mesh sync after a change, and keeps the
// tombstones bounded.
func (c *Controller) meshChanged(changed, prune bool) {
	if !changed {
		return
	}
	if prune {
		c.mesh.pruneTombstones(c.minMeshCursor(), 8*c.opts.MeshLogSize)
	}
	c.enqueueMesh()
}

// refOf names an informer object (or its tombstone) as a hubproto.Ref.
func refOf(resource string, obj any) (hubproto.Ref, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		ns, name, err := cache.SplitMetaNamespaceKey(t.Key)
		if err != nil {
			return hubproto.Ref{}, false
		}
		return hubproto.Ref{Resource: resource, Namespace: ns, Name: name}, true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return hubproto.Ref{}, false
	}
	return hubproto.Ref{Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName()}, true
}

// newerRV reports whether resourceVersion a is newer than b, as the edge store decides it
// (edgecore/metastore): as integers when both are, otherwise any difference.
func newerRV(a, b string) bool {
	ai, aerr := strconv.ParseUint(a, 10, 64)
	bi, berr := strconv.ParseUint(b, 10, 64)
	if aerr == nil && berr == nil {
		return ai > bi
	}
	return a != b
}
