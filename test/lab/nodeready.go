package lab

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// WaitNodeReady polls Node name until its Ready condition is True. Once the Node exists,
// prepare (if not nil) runs on it until it succeeds — what a controller-manager or an operator
// would do to a new node (pod CIDR, labels, taints). It fails when agent (the process that
// registers the node) exits or ctx ends, with the last state seen and the agent's log tail.
func WaitNodeReady(ctx context.Context, client kubernetes.Interface, name string, agent *Process, prepare func(*corev1.Node) error) error {
	prepared := prepare == nil
	last := "no Node"
	for {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case err != nil:
			last = err.Error()
		case !prepared:
			if err := prepare(node); err != nil {
				last = err.Error()
			} else {
				prepared = true
			}
		default:
			last = "Ready condition absent"
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status == corev1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("Ready=%s: %s", c.Status, c.Message)
				}
			}
		}
		select {
		case <-agent.Done():
			return fmt.Errorf("lab: %s exited before node %s was Ready: %v\n%s", agent.Name, name, agent.Err(), agent.Tail(40))
		case <-ctx.Done():
			return fmt.Errorf("lab: node %s not Ready: %w (%s)\n%s", name, ctx.Err(), last, agent.Tail(40))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
