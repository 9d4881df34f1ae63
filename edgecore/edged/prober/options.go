package prober

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Execer runs a command in a container and waits for it (the CRI ExecSync).
type Execer interface {
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, exitCode int32, err error)
}

// Dialer opens the TCP connections of httpGet, tcpSocket and grpc probes.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configures a Manager.
type Options struct {
	// Exec runs exec probes; without it exec probes fail.
	Exec Execer
	// Clock drives delays and periods; nil means the real clock.
	Clock clock.WithTicker
	// Logger receives probe failures at V(2) and worker lifecycle at V(4).
	Logger klog.Logger
	// Registerer receives outpost_edged_probe_total; nil means none.
	Registerer prometheus.Registerer
	// Dialer opens probe connections; nil means a net.Dialer. Tests inject
	// one to reach loopback listeners whatever the probe's host.
	Dialer Dialer
	// ResultsBuffer is the capacity of the Results channel; 0 means 64.
	ResultsBuffer int
}
