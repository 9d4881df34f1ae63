package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Sizing of the tmpfs under a secret or token volume. tmpfs charges whole pages, so every
// file counts its data rounded up to pages plus one page for a symlink to it that may not fit
// in the inode. The ..data swap holds the old and the new generation at once, so twice that,
// and 1 MiB more (the API server's limit on one object) so that one Secret may grow to any
// legal size without a remount. The size is only a bound: tmpfs uses memory for what is
// written, so the bound is there to stop a container that writes into its (writable) secret
// mount from filling the node's memory.
const secretTmpfsHeadroom = 1 << 20

// sensitiveDirMode is the mode of a secret volume's tmpfs root: what writeAtomic gives a
// directory on disk, so containers running as any user can read their files.
const sensitiveDirMode = 0o755

// sensitive reports whether a volume carries credentials and so must live in memory only:
// a Secret, or a projected volume with a Secret or a service account token in it.
func sensitive(s *corev1.VolumeSource) bool {
	if s.Secret != nil {
		return true
	}
	if s.Projected == nil {
		return false
	}
	return slices.ContainsFunc(s.Projected.Sources, func(p corev1.VolumeProjection) bool {
		return p.Secret != nil || p.ServiceAccountToken != nil
	})
}

// tmpfsSize is the size of a fresh tmpfs for payload (see secretTmpfsHeadroom).
func tmpfsSize(payload map[string]file) int64 {
	page := int64(os.Getpagesize())
	var need int64
	for _, f := range payload {
		need += (int64(len(f.data))+page-1)/page*page + page
	}
	return 2*need + secretTmpfsHeadroom
}

// isMounted reports whether dir itself is a mount point.
func (m *Manager) isMounted(dir string) (bool, error) {
	mps, err := m.o.Mounter.MountPoints(dir)
	if err != nil {
		return false, err
	}
	return slices.Contains(mps, filepath.Clean(dir)), nil
}

// writeSensitive writes payload to dir on a tmpfs of its own, as the kubelet does, so that
// credentials never reach the node's disk. The tmpfs is mounted once (later syncs find it in
// the mount table and only swap ..data); TearDown unmounts it with the pod's other mounts.
func (m *Manager) writeSensitive(dir string, payload map[string]file) error {
	// 0700 plugin directory: other host users cannot reach the mount points below it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	ok, err := m.isMounted(dir)
	if err != nil {
		return err
	}
	if !ok {
		if _, err := os.Lstat(filepath.Join(dir, dataLink)); err == nil {
			// Published on disk by an edged without tmpfs support, and a running container has
			// bind-mounted that directory: a tmpfs over it would hide every later update
			// (token refreshes) from the container. Keep it until the pod goes.
			m.o.Logger.V(2).Info("secret volume stays on disk until its pod is removed", "dir", dir)
			_, err := writeAtomic(dir, payload)
			return err
		}
		if err := m.o.Mounter.MountTmpfs(dir, tmpfsSize(payload)); err != nil {
			return fmt.Errorf("volume: secret volumes need a tmpfs: %w", err)
		}
		if err := os.Chmod(dir, sensitiveDirMode); err != nil {
			// Unmount, or the next sync would find the mount and keep the wrong mode.
			return errors.Join(fmt.Errorf("volume: %w", err), m.o.Mounter.Unmount(dir))
		}
	}
	_, err = writeAtomic(dir, payload)
	return err
}
