package edgecontroller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// The Ready condition of a node disconnected past the grace period, as the node lifecycle
// controller spells it, so that tools reading it need nothing new.
const (
	reasonNodeUnknown  = "NodeStatusUnknown"
	messageNodeUnknown = "edge node disconnected from cloudcore"
)

// checkHealth sets a disconnected node's Ready condition to Unknown once it has been away for
// the grace period, and otherwise queues the node for the end of it. Pods stay and no taint is
// added: edge nodes run on their own while the cloud is away.
func (c *Controller) checkHealth(ctx context.Context, name string, node *corev1.Node, st *nodeState) error {
	if node == nil {
		return nil
	}
	since := c.started
	if st != nil {
		st.mu.Lock()
		connected, at := st.session != nil, st.disconnectedAt
		st.mu.Unlock()
		if connected {
			return nil
		}
		if !at.IsZero() {
			since = at
		}
	}
	if away := c.clock.Since(since); away < c.opts.GracePeriod {
		c.queue.AddAfter(name, c.opts.GracePeriod-away)
		return nil
	}
	var ready *corev1.NodeCondition
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	if ready != nil && ready.Status == corev1.ConditionUnknown && ready.Reason == reasonNodeUnknown {
		return nil
	}
	n := node.DeepCopy()
	now := metav1.NewTime(c.clock.Now())
	cond := corev1.NodeCondition{
		Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
		Reason: reasonNodeUnknown, Message: messageNodeUnknown, LastTransitionTime: now,
	}
	if ready != nil {
		cond.LastHeartbeatTime = ready.LastHeartbeatTime
	}
	replaced := false
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			n.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		n.Status.Conditions = append(n.Status.Conditions, cond)
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("edgecontroller: mark %s unknown: %w", name, err)
	}
	c.metrics.unknown.Inc()
	klog.FromContext(ctx).Info("Edge node disconnected past the grace period, Ready=Unknown", "grace", c.opts.GracePeriod)
	return nil
}
