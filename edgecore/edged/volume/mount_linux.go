package volume

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// HostMounter mounts with the mount(2) system call; it needs CAP_SYS_ADMIN.
type HostMounter struct{}

// MountTmpfs mounts a tmpfs at target, 0777 like an emptyDir.
func (HostMounter) MountTmpfs(target string, sizeBytes int64) error {
	data := "mode=0777"
	if sizeBytes > 0 {
		data += ",size=" + strconv.FormatInt(sizeBytes, 10)
	}
	if err := syscall.Mount("tmpfs", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, data); err != nil {
		return fmt.Errorf("volume: mount tmpfs at %s: %w", target, err)
	}
	return nil
}

// Unmount unmounts target.
func (HostMounter) Unmount(target string) error {
	if err := syscall.Unmount(target, 0); err != nil {
		return fmt.Errorf("volume: unmount %s: %w", target, err)
	}
	return nil
}

// MountPoints reads /proc/self/mountinfo for mount points at or under dir.
func (HostMounter) MountPoints(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	defer f.Close()
	return parseMountInfo(bufio.NewScanner(f), filepath.Clean(dir))
}

// parseMountInfo returns the mount points (field 5, octal escapes undone) at or under dir.
func parseMountInfo(sc *bufio.Scanner, dir string) ([]string, error) {
	var out []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeOctal(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("volume: read mountinfo: %w", err)
	}
	return out, nil
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
