package edged

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/outpostmesh/outpost/edgecore/edged/prober"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
	"github.com/outpostmesh/outpost/hubproto"
)

// StatusSink queues status updates for the cloud (hubclient.Client.SendStatus).
type StatusSink func(ctx context.Context, updates []hubproto.StatusUpdate) error

// Prober is what edged uses of *prober.Manager; tests pass a fake.
type Prober interface {
	Sync(t prober.Target)
	Remove(uid types.UID)
	Ready(uid types.UID, container string) bool
	Started(uid types.UID, container string) bool
	Results() <-chan prober.Result
}

// Options configure Edged. Zero values mean the defaults named.
type Options struct {
	// NodeName is the node whose pods edged runs. Required.
	NodeName string
	// Sources list and watch pods, ConfigMaps, Secrets and the own Node (NewSources on the
	// metaserver). Required.
	Sources Sources
	// Runtime and Images are the CRI services (cri.Client). Required.
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	// Status sends pod status upstream. Required.
	Status StatusSink
	// Tokens issues projected service account tokens; nil makes such volumes fail with a
	// status message.
	Tokens volume.TokenSource
	// Prober runs liveness, readiness and startup probes; nil treats every running container
	// as started and ready and never restarts one for liveness.
	Prober Prober
	// Mounter mounts tmpfs for memory emptyDirs and secret/token volumes (edged needs
	// CAP_SYS_ADMIN for them). Default volume.HostMounter.
	Mounter volume.Mounter
	// RootDir holds pod volumes and CNI IPAM state. Default /var/lib/outpost/edged.
	RootDir string
	// PodLogsDir is the root of pod log directories (<ns>_<name>_<uid>). Default /var/log/pods.
	PodLogsDir string
	// CNIConfDir receives the node's bridge conflist once the Node has a podCIDR; empty
	// writes none (the runtime's own CNI config is used).
	CNIConfDir string
	// CNIBridge is the bridge's name. Default outpost0.
	CNIBridge string
	// ClusterDNS is the nameserver of ClusterFirst pods. Default 169.254.96.16.
	ClusterDNS string
	// ClusterDomain is the cluster's DNS domain. Default cluster.local.
	ClusterDomain string
	// CgroupParent is the parent cgroup of pod sandboxes; empty lets the runtime choose.
	CgroupParent string
	// NodeIP is reported as hostIP; default: the Node's first InternalIP.
	NodeIP string
	// RuntimeName prefixes container IDs in status (containerd://…). Default containerd.
	RuntimeName string
	// SyncPeriod re-syncs every pod (ConfigMap contents, tokens). Default 10 s.
	SyncPeriod time.Duration
	// RelistPeriod is how often CRI state is compared for changes. Default 1 s.
	RelistPeriod time.Duration
	// MaxPods refuses pods beyond this count with a status message. Default 110.
	MaxPods int
	// Workers is the number of pods synced at once (one worker per pod at a time, as the
	// kubelet runs a goroutine per pod): a burst of new pods must not delay the status of
	// pods already started. Default 32.
	Workers int
	// Clock drives back-offs and periods. Default the real clock.
	Clock clock.WithTicker
	// Registerer receives edged's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives edged's logs. Default klog.Background().
	Logger klog.Logger
}

// Defaults of Options.
const (
	DefaultRootDir       = "/var/lib/outpost/edged"
	DefaultPodLogsDir    = "/var/log/pods"
	DefaultCNIBridge     = "outpost0"
	DefaultClusterDNS    = "169.254.96.16"
	DefaultClusterDomain = "cluster.local"
)

func (o Options) withDefaults() (Options, error) {
	if o.NodeName == "" || !o.Sources.complete() || o.Runtime == nil || o.Images == nil || o.Status == nil {
		return o, fmt.Errorf("%w: NodeName, Sources, Runtime, Images and Status are required", ErrInvalidOptions)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.RootDir, DefaultRootDir)
	def(&o.PodLogsDir, DefaultPodLogsDir)
	def(&o.CNIBridge, DefaultCNIBridge)
	def(&o.ClusterDNS, DefaultClusterDNS)
	def(&o.ClusterDomain, DefaultClusterDomain)
	def(&o.RuntimeName, "containerd")
	if !filepath.IsAbs(o.RootDir) || !filepath.IsAbs(o.PodLogsDir) {
		return o, fmt.Errorf("%w: RootDir %q and PodLogsDir %q must be absolute", ErrInvalidOptions, o.RootDir, o.PodLogsDir)
	}
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = 10 * time.Second
	}
	if o.RelistPeriod <= 0 {
		o.RelistPeriod = time.Second
	}
	if o.MaxPods <= 0 {
		o.MaxPods = 110
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	return o, nil
}
