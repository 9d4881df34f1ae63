package edgelab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/outpostmesh/outpost/edgecore/config"
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
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return 0, fmt.Errorf("edgelab: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeOctal(fields[4])
		if strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("edgelab: mountinfo: %w", err)
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var first error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT && first == nil {
			first = fmt.Errorf("edgelab: unmount %s: %w", p, err)
		}
	}
	return len(points), first
}

// unescapeOctal undoes mountinfo's \ooo escapes (space, tab, newline, backslash).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
