package lab

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cleanDeadContainerds removes what lab containerds of dead runs left: a run killed hard
// (SIGKILL, a crashed test binary) takes containerd with it (Pdeathsig) but not the shims'
// containers in pod network namespaces, nor the overlay and netns mounts in its directory.
// A run is dead when no state file under StateDir names it with a live pid; only
// directories named by os.MkdirTemp in NewRun ("outpost-lab-<id>-*") are considered.
func cleanDeadContainerds(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "outpost-lab-*", "containerd-*"))
	for _, d := range dirs {
		runDir := filepath.Dir(d)
		id, ok := strings.CutPrefix(filepath.Base(runDir), "outpost-lab-")
		if !ok || len(id) < 7 || id[6] != '-' || runAlive(id[:6]) {
			continue
		}
		logf("lab: removing containerd %s of dead run %s", d, id[:6])
		c := &Containerd{Dir: d, SocketPath: filepath.Join(d, "containerd.sock"), RuncRoot: filepath.Join(d, "state", "runc"),
			CgroupParent: "/outpost-lab-" + id[:6] + "-" + strings.TrimPrefix(filepath.Base(d), "containerd-")}
		if err := c.removeLeftovers(); err != nil {
			logf("lab: %s: %v", d, err)
			continue
		}
		// The rest of the dead run's directory has nothing mounted: remove it too.
		if len(mountsUnder(runDir)) == 0 {
			_ = os.RemoveAll(runDir)
		}
	}
}

// runAlive tells whether the run id has a state file naming a live process.
func runAlive(id string) bool {
	b, err := os.ReadFile(filepath.Join(StateDir, id))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && processAlive(pid)
}
