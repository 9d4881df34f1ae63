package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Leftovers lists what of this instance is still on the machine: live shim (or other)
// processes naming its socket or directory, mounts under Dir, pod network namespace files,
// cgroup-less shim sockets, and Dir itself. It is empty after the run's Close.
func (c *Containerd) Leftovers() []string {
	var out []string
	for _, p := range c.shimPids() {
		if !isZombie(p) {
			out = append(out, "process "+strconv.Itoa(p))
		}
	}
	for _, m := range mountsUnder(c.Dir) {
		out = append(out, "mount "+m)
	}
	ids, netns := c.seen.snapshot()
	for _, n := range netns {
		if _, err := os.Stat(n); err == nil {
			out = append(out, "netns "+n)
		}
	}
	for _, id := range ids {
		if _, err := os.Stat(shimSocket(c.SocketPath, id)); err == nil {
			out = append(out, fmt.Sprintf("shim socket of %s", id))
		}
	}
	for _, d := range cgroupDirs(c.CgroupParent) {
		out = append(out, "cgroup "+d)
	}
	for _, id := range ids {
		for _, d := range cgroupDirs("/" + criNamespace + "/" + id) {
			out = append(out, "cgroup "+d)
		}
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		out = append(out, "directory "+c.Dir)
	}
	return out
}
