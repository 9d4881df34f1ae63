package config

import (
	"net"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults of NodeStatus.
const (
	DefaultStatusInterval = 10 * time.Second
	DefaultLeaseDuration  = 40 * time.Second
	DefaultKubeletPort    = 10250
)

// NodeStatus configures the node status and lease edgecore reports through the hub.
type NodeStatus struct {
	// Interval between two status reports (and lease renewals). Default 10 s.
	Interval metav1.Duration `json:"interval,omitzero"`
	// LeaseDuration is the lease's leaseDurationSeconds. Default 40 s.
	LeaseDuration metav1.Duration `json:"leaseDuration,omitzero"`
	// KubeletPort is status.daemonEndpoints.kubeletEndpoint.Port: where the apiserver reaches
	// the node's kubelet API (cloudcore's reverse tunnel answers there). Default 10250.
	KubeletPort int32 `json:"kubeletPort,omitempty"`
	// NodeIP is the node's InternalIP. Default: the addresses of the up, non-loopback
	// interfaces.
	NodeIP string `json:"nodeIP,omitempty"`
}

// DefaultNodeStatus returns the defaults.
func DefaultNodeStatus() NodeStatus {
	n := NodeStatus{}
	n.defaults()
	return n
}

func (n *NodeStatus) defaults() {
	if n.Interval.Duration == 0 {
		n.Interval.Duration = DefaultStatusInterval
	}
	if n.LeaseDuration.Duration == 0 {
		n.LeaseDuration.Duration = DefaultLeaseDuration
	}
	if n.KubeletPort == 0 {
		n.KubeletPort = DefaultKubeletPort
	}
}

func (n *NodeStatus) validate(bad func(string, ...any) error) error {
	switch {
	case n.Interval.Duration < 0 || n.LeaseDuration.Duration < 0:
		return bad("negative nodeStatus.interval or nodeStatus.leaseDuration")
	case n.KubeletPort < 0 || n.KubeletPort > 65535:
		return bad("nodeStatus.kubeletPort %d out of range", n.KubeletPort)
	case n.NodeIP != "" && net.ParseIP(n.NodeIP) == nil:
		return bad("nodeStatus.nodeIP %q is not an IP", n.NodeIP)
	}
	return nil
}
