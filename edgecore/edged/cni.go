package edged

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/outpostmesh/outpost/edgecore/edged/cniconf"
)

// cniConfName sorts before the runtime's usual defaults, which load only the first conflist.
const cniConfName = "10-outpost.conflist"

// writeCNIConfig writes the conflist atomically, only if it changed.
func (e *Edged) writeCNIConfig(podCIDR string) error {
	b, err := cniconf.Bridge(e.o.CNIBridge, podCIDR, filepath.Join(e.o.RootDir, "cni"))
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
