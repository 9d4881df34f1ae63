package edgecontroller

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// EdgeNodeLabel marks a Node as an edge node (any value).
const EdgeNodeLabel = "node-role.kubernetes.io/edge"

// Options configure a Controller. Zero values take the defaults named on each field.
type Options struct {
	// Client writes status to the apiserver. Required.
	Client kubernetes.Interface
	// Informers is the factory the controller takes its informers from; the caller starts it
	// after New. Required.
	Informers informers.SharedInformerFactory
	// MeshObjects sends every edge node the mesh share (the mesh agent's service view): every
	// Service and EndpointSlice and, pruned to name, labels and addresses, every Node that
	// hosts an endpoint; default true.
	MeshObjects *bool
	// MeshLogSize bounds the mesh change log: a node more changes behind gets a scan of the
	// snapshot instead; default 4096.
	MeshLogSize int
	// GracePeriod is how long a node may be disconnected before its Ready condition becomes
	// Unknown; default 40 s.
	GracePeriod time.Duration
	// BatchChanges bounds the changes in one sync batch; default 100.
	BatchChanges int
	// BatchBytes bounds the object bytes in one sync batch (a single larger object goes alone);
	// default 1 MiB, well under hubproto.MaxFrameSize.
	BatchBytes int
	// MaxPendingStatus bounds the status frames queued per node; later ones are left
	// unacknowledged (the edge sends them again); default 64.
	MaxPendingStatus int
	// Clock drives the grace period and the workqueues' delays; default the real clock.
	Clock clock.WithTicker
	// Registerer registers the controller's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

func (o Options) withDefaults() (Options, error) {
	if o.Client == nil || o.Informers == nil {
		return o, fmt.Errorf("%w: Client and Informers are required", ErrBadOptions)
	}
	if o.MeshObjects == nil {
		t := true
		o.MeshObjects = &t
	}
	if o.MeshLogSize <= 0 {
		o.MeshLogSize = 4096
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 40 * time.Second
	}
	if o.BatchChanges <= 0 {
		o.BatchChanges = 100
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.MaxPendingStatus <= 0 {
		o.MaxPendingStatus = 64
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o, nil
}
