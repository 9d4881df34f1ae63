package prober

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// runner runs one probe attempt; it holds no per-container state.
type runner struct {
	exec   Execer
	dialer Dialer
}

func newRunner(exec Execer, dialer Dialer) *runner {
	return &runner{exec: exec, dialer: dialer}
}

// httpTransport is one probe's transport. Its dials are bound to the probe's ctx: a shared
// transport dials on a context of its own that outlives a timed-out request, so a probe of a
// pod that is gone would leave a dial behind until the kernel gives up (minutes).
func (r *runner) httpTransport(ctx context.Context) *http.Transport {
	return &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			return r.dialer.DialContext(ctx, network, addr)
		},
		// Probed endpoints serve self-signed certificates; the kubelet does not verify them
		// either.
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes, as the kubelet
		DisableKeepAlives:  true,                                  // one connection per probe, nothing left open
		DisableCompression: true,
		Proxy:              nil, // probes go straight to the pod
	}
}

// probe runs the handler of t's probe once within ctx's deadline and
// returns success and, on failure, why.
func (r *runner) probe(ctx context.Context, t *workerTarget) (bool, string) {
	h := &t.probe.ProbeHandler
	var err error
	switch {
	case h.Exec != nil:
		err = r.execProbe(ctx, t, h.Exec)
	case h.HTTPGet != nil:
		err = r.httpProbe(ctx, t, h.HTTPGet)
	case h.TCPSocket != nil:
		err = r.tcpProbe(ctx, t, h.TCPSocket)
	case h.GRPC != nil:
		err = r.grpcProbe(ctx, t, h.GRPC)
	default:
		err = fmt.Errorf("%w: no handler", ErrInvalidProbe)
	}
	if err != nil {
		return false, err.Error()
	}
	return true, ""
}

// resolvePort turns a port number or a container port name into a number.
func resolvePort(port intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if port.Type == intstr.Int {
		if port.IntVal < 1 || port.IntVal > 65535 {
			return 0, fmt.Errorf("%w: port %d out of range", ErrInvalidProbe, port.IntVal)
		}
		return int(port.IntVal), nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil && n >= 1 && n <= 65535 {
		return n, nil // the kubelet also accepts a number written as a string
	}
	for _, p := range ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrPortNotFound, port.StrVal)
}

func hostPort(host, podIP string, port int) string {
	if host == "" {
		host = podIP
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
