package edgecontroller

import (
	"context"
	"encoding/json"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/hubproto"
)

// nodeLeaseNamespace holds the nodes' heartbeat Leases.
const nodeLeaseNamespace = "kube-node-lease"

// applyStatus writes one status update with the node's authority: only its own Node and
// Lease, only pods bound to it. It returns a *refusal for what must not or cannot be applied.
func (c *Controller) applyStatus(ctx context.Context, node string, u hubproto.StatusUpdate) error {
	switch u.Resource {
	case resNodes:
		return c.applyNodeStatus(ctx, node, u)
	case resPods:
		return c.applyPodStatus(ctx, node, u)
	case resLeases:
		return c.applyLease(ctx, node, u)
	case resEvents:
		return c.applyEvent(ctx, node, u)
	}
	return refuse("unsupported_resource", fmt.Errorf("resource %q", u.Resource))
}

func (c *Controller) applyNodeStatus(ctx context.Context, node string, u hubproto.StatusUpdate) error {
	if u.Name != node {
		return refuse("other_node", fmt.Errorf("node %s wrote status of node %s", node, u.Name))
	}
	var n corev1.Node
	if err := json.Unmarshal(u.Object, &n); err != nil {
		return refuse("malformed_object", err)
	}
	patch, err := json.Marshal(map[string]any{"status": n.Status})
	if err != nil {
		return refuse("malformed_object", err)
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	return apiError("patch node status", err)
}

func (c *Controller) applyPodStatus(ctx context.Context, node string, u hubproto.StatusUpdate) error {
	if err := c.ownPod(ctx, node, u.Namespace, u.Name); err != nil {
		return err
	}
	var p corev1.Pod
	if err := json.Unmarshal(u.Object, &p); err != nil {
		return refuse("malformed_object", err)
	}
	if u.Finalize && p.UID == "" {
		return refuse("malformed_object", fmt.Errorf("finalize of pod %s/%s without metadata.uid", u.Namespace, u.Name))
	}
	patch, err := json.Marshal(map[string]any{"status": p.Status})
	if err != nil {
		return refuse("malformed_object", err)
	}
	_, err = c.client.CoreV1().Pods(u.Namespace).Patch(ctx, u.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err := apiError("patch pod status", err); err != nil || !u.Finalize {
		return err
	}
	return c.finalizePod(ctx, u.Namespace, u.Name, p.UID)
}

// finalizePod deletes a pod whose containers the edge has all stopped, as the kubelet does
// once a pod being deleted has terminated: grace period 0, and only that incarnation (uid), so
// a newer pod of the same name is never touched. Gone or replaced already is success.
func (c *Controller) finalizePod(ctx context.Context, namespace, name string, uid types.UID) error {
	err := c.client.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To(int64(0)),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return apiError("delete finalized pod", err)
}

// ownPod checks that pod namespace/name is bound to node (the cache first, the apiserver if the
// cache has not seen it yet).
func (c *Controller) ownPod(ctx context.Context, node, namespace, name string) error {
	pod, err := c.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		pod, err = c.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return apiError("get pod", err)
	}
	if pod.Spec.NodeName != node {
		return refuse("pod_of_other_node", fmt.Errorf("node %s wrote status of pod %s/%s bound to %q", node, namespace, name, pod.Spec.NodeName))
	}
	return nil
}

func (c *Controller) applyLease(ctx context.Context, node string, u hubproto.StatusUpdate) error {
	if u.Namespace != nodeLeaseNamespace || u.Name != node {
		return refuse("other_lease", fmt.Errorf("node %s wrote lease %s/%s", node, u.Namespace, u.Name))
	}
	var in coordinationv1.Lease
	if err := json.Unmarshal(u.Object, &in); err != nil {
		return refuse("malformed_object", err)
	}
	spec := in.Spec
	spec.HolderIdentity = &node
	leases := c.client.CoordinationV1().Leases(nodeLeaseNamespace)
	cur, err := leases.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: nodeLeaseNamespace}, Spec: spec}
		if n, err := c.nodes.Get(node); err == nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return apiError("create lease", err)
	}
	if err != nil {
		return apiError("get lease", err)
	}
	l := cur.DeepCopy()
	l.Spec = spec
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return apiError("update lease", err)
}

func (c *Controller) applyEvent(ctx context.Context, node string, u hubproto.StatusUpdate) error {
	var ev corev1.Event
	if err := json.Unmarshal(u.Object, &ev); err != nil {
		return refuse("malformed_object", err)
	}
	if u.Namespace == "" {
		return refuse("malformed_object", fmt.Errorf("event %s without namespace", u.Name))
	}
	switch io := ev.InvolvedObject; io.Kind {
	case "Node":
		if io.Name != node {
			return refuse("other_node", fmt.Errorf("node %s wrote an event about node %s", node, io.Name))
		}
	case "Pod":
		if err := c.ownPod(ctx, node, io.Namespace, io.Name); err != nil {
			return err
		}
	}
	ev.Namespace, ev.Name = u.Namespace, u.Name
	ev.ResourceVersion, ev.UID = "", ""
	_, err := c.client.CoreV1().Events(u.Namespace).Create(ctx, &ev, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) { // a frame applied before its ack was lost
		return nil
	}
	return apiError("create event", err)
}

// apiError turns apiserver answers that retrying cannot change into refusals.
func apiError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return refuse("not_found", fmt.Errorf("%s: %w", op, err))
	case apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return refuse("rejected", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("edgecontroller: %s: %w", op, err)
}
