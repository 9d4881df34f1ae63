package iptables

import (
	"net/netip"

	"k8s.io/klog/v2"
)

// Options configure a Syncer.
type Options struct {
	// IPv6 makes the Syncer handle IPv6 ClusterIPs (its Runner must be ip6tables); redirects
	// of the other family are ignored. Default false: IPv4.
	IPv6 bool
	// CoexistWithKubeProxy places our jumps after kube-proxy's KUBE-SERVICES jumps, so
	// kube-proxy keeps the ClusterIPs it handles (see the package doc). Default false.
	CoexistWithKubeProxy bool
	// ExcludeCIDRs are destinations never redirected (e.g. the agent's DNS address).
	ExcludeCIDRs []netip.Prefix
	// Logger logs rule changes. Zero value: discard.
	Logger klog.Logger
}

// Default returns the default Options: IPv4, our jumps first, nothing excluded.
func Default() Options { return Options{} }
