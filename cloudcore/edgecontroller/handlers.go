package edgecontroller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// podsByNode indexes pods by spec.nodeName.
const podsByNode = "outpost.nodeName"

func indexPodsByNode(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{pod.Spec.NodeName}, nil
}

// addHandlers maps informer events to node names on the queue.
func (c *Controller) addHandlers() error {
	f := c.opts.Informers
	mesh := *c.opts.MeshObjects
	add := func(inf cache.SharedIndexInformer, fn func(obj any)) error {
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    fn,
			UpdateFunc: func(old, cur any) { fn(old); fn(cur) },
			DeleteFunc: func(obj any) {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				fn(obj)
			},
		})
		return err
	}
	errs := []error{
		add(f.Core().V1().Nodes().Informer(), func(obj any) {
			if n, ok := obj.(*corev1.Node); ok && isEdge(n) {
				c.queue.Add(n.Name)
			}
		}),
		add(f.Core().V1().Pods().Informer(), func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				c.queue.Add(p.Spec.NodeName)
			}
		}),
		add(f.Core().V1().ConfigMaps().Informer(), func(obj any) { c.enqueueReferrers(obj, refConfigMap) }),
		add(f.Core().V1().Secrets().Informer(), func(obj any) { c.enqueueReferrers(obj, refSecret) }),
		add(f.Core().V1().ServiceAccounts().Informer(), func(obj any) { c.enqueueReferrers(obj, refServiceAccount) }),
	}
	if mesh {
		// The mesh handlers update the shared snapshot from the current object only.
		addMesh := func(inf cache.SharedIndexInformer, fn func(obj any, deleted bool)) error {
			_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { fn(obj, false) },
				UpdateFunc: func(_, cur any) { fn(cur, false) },
				DeleteFunc: func(obj any) { fn(obj, true) },
			})
			return err
		}
		errs = append(errs,
			addMesh(f.Core().V1().Nodes().Informer(), c.meshNode),
			addMesh(f.Core().V1().Services().Informer(), func(obj any, deleted bool) { c.meshObject(resServices, obj, deleted) }),
			addMesh(f.Discovery().V1().EndpointSlices().Informer(), func(obj any, deleted bool) { c.meshObject(resEndpointSlices, obj, deleted) }))
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("edgecontroller: add event handler: %w", err)
		}
	}
	return nil
}

func isEdge(n *corev1.Node) bool {
	_, ok := n.Labels[EdgeNodeLabel]
	return ok
}

// enqueueReferrers queues the nodes of the pods that reference obj.
func (c *Controller) enqueueReferrers(obj any, kind refKind) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	pods, err := c.pods.Pods(m.GetNamespace()).List(everything)
	if err != nil {
		return
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && podRefers(p, kind, m.GetName()) {
			c.queue.Add(p.Spec.NodeName)
		}
	}
}

// enqueueMesh queues the mesh sync of every node with a session (the snapshot changed).
func (c *Controller) enqueueMesh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.live {
		c.meshQueue.Add(name)
	}
}

// liveStates are the states of the nodes with a session.
func (c *Controller) liveStates() []*nodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*nodeState, 0, len(c.live))
	for _, st := range c.live {
		out = append(out, st)
	}
	return out
}
