package main

import (
	"errors"
	"syscall"
)

// unmount detaches a mount point; one already gone is fine.
func unmount(path string) error {
	err := syscall.Unmount(path, syscall.MNT_DETACH)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}
