package prober

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// tcpProbe succeeds when a TCP connection opens; it is closed at once.
func (r *runner) tcpProbe(ctx context.Context, t *workerTarget, a *corev1.TCPSocketAction) error {
	port, err := resolvePort(a.Port, t.ports)
	if err != nil {
		return err
	}
	addr := hostPort(a.Host, t.podIP, port)
	conn, err := r.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tcp probe: dial %s: %w", addr, err)
	}
	_ = conn.Close()
	return nil
}
