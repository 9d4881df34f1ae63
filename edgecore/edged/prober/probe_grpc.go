package prober

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

// grpcProbe calls grpc.health.v1.Health/Check on the pod IP without TLS, as
// the kubelet does; SERVING is success.
func (r *runner) grpcProbe(ctx context.Context, t *workerTarget, a *corev1.GRPCAction) error {
	addr := net.JoinHostPort(t.podIP, strconv.Itoa(int(a.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, s string) (net.Conn, error) {
			return r.dialer.DialContext(ctx, "tcp", s)
		}),
		grpc.WithUserAgent(userAgent),
	)
	if err != nil {
		return fmt.Errorf("grpc probe: %s: %w", addr, err)
	}
	defer conn.Close()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("grpc probe: %s: %w", addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc probe: %s: service %q is %s", addr, service, resp.GetStatus())
	}
	return nil
}
