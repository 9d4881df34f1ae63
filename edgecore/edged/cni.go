package edged

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// cniConfName sorts before the runtime's usual defaults, which load only the first conflist.
const cniConfName = "10-outpost.conflist"

// cniConfig is the node's conflist: a bridge with the node's podCIDR (host-local IPAM whose
// state lives under edged's root, so several nodes on one machine never share leases) and the
// portmap plugin for hostPorts. The runtime brings up lo by itself (containerd adds a loopback
// network to every sandbox), so the chain holds no loopback plugin: chained after the bridge
// it would act on eth0.
func cniConfig(bridge, podCIDR, dataDir string) ([]byte, error) {
	if _, _, err := net.ParseCIDR(podCIDR); err != nil {
		return nil, fmt.Errorf("edged: podCIDR %q: %w", podCIDR, err)
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

// writeCNIConfig writes the conflist atomically, only if it changed.
func (e *Edged) writeCNIConfig(podCIDR string) error {
	b, err := cniConfig(e.o.CNIBridge, podCIDR, filepath.Join(e.o.RootDir, "cni"))
	if err != nil {
		return err
	}
	path := filepath.Join(e.o.CNIConfDir, cniConfName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(e.o.CNIConfDir, 0o755); err != nil {
		return fmt.Errorf("edged: cni conf dir: %w", err)
	}
	tmp, err := os.CreateTemp(e.o.CNIConfDir, ".outpost-*.tmp")
	if err != nil {
		return fmt.Errorf("edged: cni config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("edged: cni config: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("edged: cni config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("edged: cni config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("edged: cni config: %w", err)
	}
	e.o.Logger.Info("CNI config written", "path", path, "podCIDR", podCIDR)
	return nil
}
