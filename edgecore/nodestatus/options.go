package nodestatus

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/outpostmesh/outpost/hubproto"
)

// ErrInvalidOptions reports Options that cannot work.
var ErrInvalidOptions = errors.New("nodestatus: invalid options")

// Options configure a Reporter. The zero value of a field means its default.
type Options struct {
	// NodeName is the node reported. Required.
	NodeName string
	// Send queues status updates for the cloud (hubclient.Client.SendStatus). Required.
	Send func(ctx context.Context, updates []hubproto.StatusUpdate) error
	// Interval between two reports. Default 10 s.
	Interval time.Duration
	// LeaseDuration is the Lease's leaseDurationSeconds. Default 40 s.
	LeaseDuration time.Duration
	// KubeletPort is status.daemonEndpoints.kubeletEndpoint.Port. Default 10250.
	KubeletPort int32
	// Addresses returns the node's addresses. Default: InternalIP of every address of the up,
	// non-loopback interfaces, and the Hostname.
	Addresses func() ([]corev1.NodeAddress, error)
	// Version is reported in nodeInfo (kubeletVersion, kubeProxyVersion unset). Default "v0.0.0".
	Version string
	// MaxPods is the pods capacity reported (edged refuses pods beyond it). Default 110, the
	// kubelet's.
	MaxPods int
	// MemInfoPath is read for MemTotal. Default /proc/meminfo.
	MemInfoPath string
	// Clock stamps heartbeats and drives the interval. Default the real clock.
	Clock clock.WithTicker
	// Logger receives the reporter's logs. Default klog.Background().
	Logger klog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.NodeName == "" || o.Send == nil {
		return o, fmt.Errorf("%w: NodeName and Send are required", ErrInvalidOptions)
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 40 * time.Second
	}
	if o.KubeletPort == 0 {
		o.KubeletPort = 10250
	}
	if o.Addresses == nil {
		name := o.NodeName
		o.Addresses = func() ([]corev1.NodeAddress, error) { return InterfaceAddresses(name) }
	}
	if o.Version == "" {
		o.Version = "v0.0.0"
	}
	if o.MemInfoPath == "" {
		o.MemInfoPath = "/proc/meminfo"
	}
	if o.MaxPods <= 0 {
		o.MaxPods = defaultMaxPods
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	return o, nil
}
