package lab

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/edgecore/edged/volume"
)

// mountsUnder lists mount points at or below dir (deepest first), from this process's mount
// namespace, which is containerd's: the lab starts it in the network namespace only.
func mountsUnder(dir string) []string {
	out, err := volume.HostMounter{}.MountPoints(dir)
	if err != nil {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unmountAll detaches every mount under the instance's directory (overlay rootfs, shm,
// netns bind mounts, tmpfs volumes) and the extra mount points given; a few rounds, because
// stacked mounts show up once the top one is gone.
func (c *Containerd) unmountAll(extra []string) error {
	for _, p := range extra {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
	var left []string
	for round := 0; round < 5; round++ {
		left = mountsUnder(c.Dir)
		if len(left) == 0 {
			return nil
		}
		for _, mp := range left {
			_ = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
	}
	if left = mountsUnder(c.Dir); len(left) > 0 {
		return fmt.Errorf("unmount: still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

// findProcesses returns the pids whose command line matches.
func findProcesses(match func(args []string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killPids sends SIGKILL and waits until the processes are gone (or timeout).
func killPids(pids []int, timeout time.Duration) error {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for processAlive(p) && !isZombie(p) {
			if time.Now().After(deadline) {
				return errors.New("pid " + strconv.Itoa(p) + " survived SIGKILL")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// isZombie: a killed shim may linger as a zombie until its (re)parent reaps it.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
