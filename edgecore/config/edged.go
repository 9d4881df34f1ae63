package config

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of Edged.
const (
	DefaultCRIEndpoint   = "unix:///run/containerd/containerd.sock"
	DefaultEdgedRootDir  = "/var/lib/outpost/edged"
	DefaultPodLogsDir    = "/var/log/pods"
	DefaultCNIConfDir    = "/etc/cni/net.d"
	DefaultCNIBridge     = "outpost0"
	DefaultClusterDNS    = "169.254.96.16"
	DefaultClusterDomain = "cluster.local"
	DefaultStreamAddr    = "127.0.0.1:10250"
)

// Edged configures edged, which runs the node's pods through CRI.
type Edged struct {
	// Enabled starts edged; off by default so nodes without a container runtime keep working.
	Enabled bool `json:"enabled"`
	// CRIEndpoint is the runtime's socket, unix:///path.
	CRIEndpoint string `json:"criEndpoint,omitempty"`
	// RootDir holds pod volumes and CNI IPAM state.
	RootDir string `json:"rootDir,omitempty"`
	// PodLogsDir is the root of pod log directories.
	PodLogsDir string `json:"podLogsDir,omitempty"`
	// CNIConfDir receives the node's bridge conflist once the Node has a podCIDR.
	CNIConfDir string `json:"cniConfDir,omitempty"`
	// CNIBridge is the bridge's name.
	CNIBridge string `json:"cniBridge,omitempty"`
	// ClusterDNS is the nameserver of ClusterFirst pods (the mesh's node-local DNS).
	ClusterDNS string `json:"clusterDNS,omitempty"`
	// ClusterDomain is the cluster's DNS domain.
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// CgroupParent is the parent cgroup of pod sandboxes; empty lets the runtime choose.
	CgroupParent string `json:"cgroupParent,omitempty"`
	// SyncPeriod re-syncs every pod; zero means 10 s.
	SyncPeriod metav1.Duration `json:"syncPeriod,omitzero"`
	// RelistPeriod is how often runtime state is checked for changes; zero means 1 s.
	RelistPeriod metav1.Duration `json:"relistPeriod,omitzero"`
	// MaxPods is the most pods the node runs; zero means 110.
	MaxPods int `json:"maxPods,omitempty"`
	// StreamAddr is where the stream server (the kubelet API subset: container logs, exec,
	// attach, port-forward) listens. It has no authentication of its own, so it must be a
	// loopback address: the reverse tunnel from the cloud reaches it from inside edgecore.
	StreamAddr string `json:"streamAddr,omitempty"`
}

// DefaultEdged returns the defaults (disabled).
func DefaultEdged() Edged {
	e := Edged{}
	e.defaults()
	return e
}

func (e *Edged) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&e.CRIEndpoint, DefaultCRIEndpoint)
	def(&e.RootDir, DefaultEdgedRootDir)
	def(&e.PodLogsDir, DefaultPodLogsDir)
	def(&e.CNIConfDir, DefaultCNIConfDir)
	def(&e.CNIBridge, DefaultCNIBridge)
	def(&e.ClusterDNS, DefaultClusterDNS)
	def(&e.ClusterDomain, DefaultClusterDomain)
	def(&e.StreamAddr, DefaultStreamAddr)
}

func (e *Edged) validate(bad func(string, ...any) error) error {
	if !e.Enabled {
		return nil
	}
	switch {
	case !strings.HasPrefix(e.CRIEndpoint, "unix:///"):
		return bad("edged.criEndpoint %q is not unix:///path", e.CRIEndpoint)
	case !filepath.IsAbs(e.RootDir) || !filepath.IsAbs(e.PodLogsDir):
		return bad("edged.rootDir and edged.podLogsDir must be absolute")
	case e.CNIConfDir != "" && !filepath.IsAbs(e.CNIConfDir):
		return bad("edged.cniConfDir %q must be absolute", e.CNIConfDir)
	case net.ParseIP(e.ClusterDNS) == nil:
		return bad("edged.clusterDNS %q is not an IP", e.ClusterDNS)
	case e.SyncPeriod.Duration < 0 || e.RelistPeriod.Duration < 0 || e.MaxPods < 0:
		return bad("negative edged.syncPeriod, edged.relistPeriod or edged.maxPods")
	case e.CNIBridge == "" || len(e.CNIBridge) > 15:
		return bad("edged.cniBridge %q must be 1–15 characters", e.CNIBridge)
	case !isLoopbackHostPort(e.StreamAddr):
		return bad("edged.streamAddr %q is not a loopback ip:port", e.StreamAddr)
	}
	return nil
}

// isLoopbackHostPort tells whether s is ip:port with a loopback IP and a port 1–65535.
func isLoopbackHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	n, err := strconv.Atoi(port)
	return ip != nil && ip.IsLoopback() && err == nil && n > 0 && n < 65536
}
