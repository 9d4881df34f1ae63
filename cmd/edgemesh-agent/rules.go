package main

import (
	"fmt"
	"net/netip"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh"
	"github.com/outpostmesh/outpost/edgemesh/iptables"
)

// newRules wires the agent's iptables rules: IPv4, with the node-local DNS address excluded.
func newRules(cfg *edgemesh.Config) (edgemesh.RuleSyncer, error) {
	r, err := iptables.NewRunner(false)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	opts := iptables.Options{CoexistWithKubeProxy: cfg.Proxy.CoexistWithKubeProxy, Logger: klog.Background().WithName("iptables")}
	if ip, err := netip.ParseAddr(cfg.DNS.NodeLocalIP); err == nil {
		opts.ExcludeCIDRs = append(opts.ExcludeCIDRs, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return iptables.New(r, opts), nil
}
