package stream

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

// Resolver maps Kubernetes names to the runtime's: edged implements it
// from its pod table.
type Resolver interface {
	// Container returns the runtime ID and CRI log file of a container; with
	// previous, those of the instance before the current one. Errors wrap
	// ErrNotFound when there is no such container.
	Container(namespace, pod, container string, previous bool) (id, logPath string, err error)
}

// SandboxResolver is implemented by a Resolver that can also name pod
// sandboxes; port-forward needs it (checked by type assertion).
type SandboxResolver interface {
	// Sandbox returns the pod's sandbox ID; errors wrap ErrNotFound.
	Sandbox(namespace, pod string) (id string, err error)
}

// Options configures a Server.
type Options struct {
	// Resolver finds containers and their log files. Required.
	Resolver Resolver
	// Runtime gives exec/attach/port-forward URLs and tells a followed log
	// when its container stopped. Without it, exec/attach/port-forward
	// answer 501 and follow lasts until the client goes.
	Runtime runtimeapi.RuntimeServiceClient
	// Logger receives request errors.
	Logger klog.Logger
	// Registerer receives outpost_edged_stream_requests_total; nil means none.
	Registerer prometheus.Registerer
	// PollInterval is how often a followed log file is checked for new
	// data and rotation; 0 means 250ms.
	PollInterval time.Duration
	// DialContext opens connections to the runtime's streaming server; nil
	// means a net.Dialer. Tests running containerd in another network
	// namespace inject one.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// StatusInterval is how often a followed log asks the runtime whether
	// its container still runs; 0 means 2s.
	StatusInterval time.Duration
}
