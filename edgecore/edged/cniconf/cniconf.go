// Package cniconf writes the CNI network configuration of a node's pods: one place for edged
// and for the lab's kubelet, so a benchmark compares the agents on the same network.
package cniconf

import (
	"encoding/json"
	"fmt"
	"net"
)

// Bridge is a node's conflist: a bridge with the node's podCIDR (host-local IPAM whose
// state lives under edged's root, so several nodes on one machine never share leases) and the
// portmap plugin for hostPorts. The runtime brings up lo by itself (containerd adds a loopback
// network to every sandbox), so the chain holds no loopback plugin: chained after the bridge
// it would act on eth0.
func Bridge(bridge, podCIDR, dataDir string) ([]byte, error) {
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return nil, fmt.Errorf("cniconf: podCIDR %q: %w", podCIDR, err)
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "outpost",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": dataDir,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}
