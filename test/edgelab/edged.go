package edgelab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
	"github.com/outpostmesh/outpost/test/lab"
)

// startEdged starts e's containerd and enables edged in e's configuration: CRI on that
// containerd, volumes under <Dir>/edged, logs under <Dir>/pod-logs, CNI config where that
// containerd reads it, sandboxes under its cgroup parent, the stream server on StreamAddr.
func (l *Lab) startEdged(ctx context.Context, e *Edge) error {
	root := filepath.Join(e.Dir, "edged")
	// Registered before containerd: it runs after edgecore and containerd have stopped and
	// removes the volume mounts (service account tokens are tmpfs) that outlive edgecore.
	l.Run.Defer("edged mounts "+e.Name, func() error {
		n, err := unmountUnder(root)
		if n > 0 {
			l.Run.Logf("edgelab: unmounted %d volume mounts edged left on %s", n, e.Name)
		}
		return err
	})
	cd, err := e.Host.StartContainerd(ctx, lab.ContainerdOptions{})
	if err != nil {
		return err
	}
	e.Containerd = cd
	cfg, err := config.Load(e.Config)
	if err != nil {
		return err
	}
	cfg.Edged.Enabled = true
	cfg.Edged.CRIEndpoint = cd.Socket
	cfg.Edged.RootDir = root
	cfg.Edged.PodLogsDir = filepath.Join(e.Dir, "pod-logs")
	cfg.Edged.CNIConfDir = cd.CNIConfDir
	cfg.Edged.CgroupParent = cd.CgroupParent
	cfg.Edged.StreamAddr = StreamAddr
	b, err := cfg.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(e.Config, b, 0o644)
}

// unmountUnder lazily unmounts every mount point below dir, deepest first, and returns how
// many there were.
func unmountUnder(dir string) (int, error) {
	points, err := volume.HostMounter{}.MountPoints(dir)
	if err != nil {
		return 0, fmt.Errorf("edgelab: %w", err)
	}
	points = slices.DeleteFunc(points, func(p string) bool { return p == dir })
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var first error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT && first == nil {
			first = fmt.Errorf("edgelab: unmount %s: %w", p, err)
		}
	}
	return len(points), first
}
