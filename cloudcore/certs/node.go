package certs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The role label and taint every edge node carries, so that only workloads meant for the edge
// (tolerating the taint, selecting the label) land there.
const (
	EdgeRoleLabel = "node-role.kubernetes.io/edge"
	EdgeTaintKey  = "node-role.kubernetes.io/edge"
)

// edgeTaint keeps cloud workloads off edge nodes.
var edgeTaint = corev1.Taint{Key: EdgeTaintKey, Effect: corev1.TaintEffectNoSchedule}

// RegisterNode creates the Node object of an edge node, or adds the edge label and taint to an
// existing one (a node that joins again keeps its other labels, taints and status).
func RegisterNode(ctx context.Context, client kubernetes.Interface, name string) error {
	nodes := client.CoreV1().Nodes()
	for range 3 { // retry update conflicts with a fresh read
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			n = &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{EdgeRoleLabel: ""}},
				Spec:       corev1.NodeSpec{Taints: []corev1.Taint{edgeTaint}},
			}
			_, err = nodes.Create(ctx, n, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("certs: create node %s: %w", name, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("certs: read node %s: %w", name, err)
		}
		if isEdge(n) {
			return nil
		}
		n = n.DeepCopy()
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[EdgeRoleLabel] = ""
		if !hasTaint(n) {
			n.Spec.Taints = append(n.Spec.Taints, edgeTaint)
		}
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("certs: update node %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("certs: register node %s: too many conflicts", name)
}

func isEdge(n *corev1.Node) bool {
	_, ok := n.Labels[EdgeRoleLabel]
	return ok && hasTaint(n)
}

func hasTaint(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == edgeTaint.Key && t.Effect == edgeTaint.Effect {
			return true
		}
	}
	return false
}
