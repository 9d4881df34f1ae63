package prober

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

func TestGRPCProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("up", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	p := int32(ln.Addr().(*net.TCPAddr).Port)

	r := newRunner(nil, &net.Dialer{})
	for _, tc := range []struct {
		service string
		ok      bool
	}{{"", true}, {"up", true}, {"down", false}, {"unknown", false}} {
		svc := tc.service
		wt := &workerTarget{podIP: "127.0.0.1", probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: p, Service: &svc}}}}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		ok, msg := r.probe(ctx, wt)
		cancel()
		if ok != tc.ok {
			t.Errorf("service %q: probe = %v %q, want %v", tc.service, ok, msg, tc.ok)
		}
	}
}
