package volume

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath applies a hostPath volume's type: create what *OrCreate asks for, check the
// kind of what exists for the others. The empty type checks nothing, as in Kubernetes.
func checkHostPath(src *corev1.HostPathVolumeSource) error {
	p := src.Path
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%w: hostPath %q is not absolute", ErrInvalidVolume, p)
	}
	t := corev1.HostPathUnset
	if src.Type != nil {
		t = *src.Type
	}
	info, statErr := os.Stat(p)
	want := func(ok bool, what string) error {
		if statErr != nil {
			return fmt.Errorf("%w: hostPath %q (type %s): %v", ErrInvalidVolume, p, t, statErr)
		}
		if !ok {
			return fmt.Errorf("%w: hostPath %q is not a %s", ErrInvalidVolume, p, what)
		}
		return nil
	}
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return fmt.Errorf("%w: hostPath %q: %v", ErrInvalidVolume, p, err)
			}
			return nil
		}
		return want(info.IsDir(), "directory")
	case corev1.HostPathDirectory:
		return want(statErr == nil && info.IsDir(), "directory")
	case corev1.HostPathFileOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("%w: hostPath %q: %v", ErrInvalidVolume, p, err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return fmt.Errorf("%w: hostPath %q: %v", ErrInvalidVolume, p, err)
			}
			return f.Close()
		}
		return want(info.Mode().IsRegular(), "file")
	case corev1.HostPathFile:
		return want(statErr == nil && info.Mode().IsRegular(), "file")
	case corev1.HostPathSocket:
		return want(statErr == nil && info.Mode()&fs.ModeSocket != 0, "socket")
	case corev1.HostPathCharDev:
		return want(statErr == nil && info.Mode()&fs.ModeCharDevice != 0, "character device")
	case corev1.HostPathBlockDev:
		return want(statErr == nil && info.Mode()&fs.ModeDevice != 0 && info.Mode()&fs.ModeCharDevice == 0, "block device")
	}
	return fmt.Errorf("%w: hostPath %q has unknown type %q", ErrInvalidVolume, p, t)
}
