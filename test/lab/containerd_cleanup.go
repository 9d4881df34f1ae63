package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criNamespace is the containerd namespace CRI works in.
const criNamespace = "k8s.io"

// seenObjects are the sandboxes and containers an instance ran, learnt from CRI before the
// pods are stopped and from runc's state after containerd is gone. Cleanup outside the
// instance's directory touches only what is named by these ids.
type seenObjects struct {
	mu    sync.Mutex
	ids   map[string]bool // sandbox and container ids
	netns map[string]bool // pod network namespace files
	// sharedCgroup: a sandbox ran without a cgroup parent, under the shared "/k8s.io".
	sharedCgroup bool
}

func (s *seenObjects) usedSharedCgroup() {
	s.mu.Lock()
	s.sharedCgroup = true
	s.mu.Unlock()
}

func (s *seenObjects) add(id, netns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids, s.netns = map[string]bool{}, map[string]bool{}
	}
	if id != "" {
		s.ids[id] = true
	}
	if netns != "" {
		s.netns[netns] = true
	}
}

func (s *seenObjects) snapshot() (ids, netns []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.ids {
		ids = append(ids, id)
	}
	for n := range s.netns {
		netns = append(netns, n)
	}
	return ids, netns
}

// stopPods records, stops and removes every container and sandbox through CRI, while
// containerd still runs: that lets the shims unmount, tear down CNI and exit by themselves.
func (c *Containerd) stopPods() error {
	if c.Runtime == nil {
		return nil
	}
	select {
	case <-c.Process.Done():
		return nil // nothing answers; removeLeftovers works from runc's state
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	ctrs, err := c.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	sbs, err := c.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list sandboxes: %w", err)
	}
	for _, ct := range ctrs.GetContainers() {
		c.seen.add(ct.Id, "")
	}
	for _, sb := range sbs.GetItems() {
		netns, cgroup := c.sandboxPaths(ctx, sb.Id)
		c.seen.add(sb.Id, netns)
		if strings.HasPrefix(cgroup, "/"+criNamespace+"/") {
			c.seen.usedSharedCgroup()
		}
	}
	for _, ct := range ctrs.GetContainers() {
		if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ct.Id, Timeout: 2}); err != nil {
			errs = append(errs, fmt.Errorf("stop container %s: %w", ct.Id, err))
		}
		if _, err := c.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ct.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", ct.Id, err))
		}
	}
	for _, sb := range sbs.GetItems() {
		if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop sandbox %s: %w", sb.Id, err))
		}
		if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

// sandboxPaths reads the sandbox's network namespace path ("" for host network) and cgroup
// path from CRI's verbose status: the runtime spec containerd generated.
func (c *Containerd) sandboxPaths(ctx context.Context, id string) (netns, cgroup string) {
	st, err := c.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
	if err != nil {
		return "", ""
	}
	var info struct {
		RuntimeSpec struct {
			Linux struct {
				CgroupsPath string `json:"cgroupsPath"`
				Namespaces  []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if json.Unmarshal([]byte(st.GetInfo()["info"]), &info) != nil {
		return "", ""
	}
	for _, ns := range info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" {
			netns = ns.Path
		}
	}
	return netns, info.RuntimeSpec.Linux.CgroupsPath
}

// removeLeftovers runs after containerd has stopped. Each step works even if the earlier
// ones (or stopPods) failed, and touches only this instance's ids, processes and paths.
func (c *Containerd) removeLeftovers() error {
	if c.conn != nil {
		c.conn.Close()
	}
	var errs []error
	if err := c.deleteRuncContainers(); err != nil {
		errs = append(errs, err)
	}
	if err := killPids(c.shimPids(), 3*time.Second); err != nil {
		errs = append(errs, fmt.Errorf("shims: %w", err))
	}
	ids, netns := c.seen.snapshot()
	if err := c.unmountAll(netns); err != nil {
		errs = append(errs, err)
	}
	for _, n := range netns {
		if !strings.HasPrefix(n, c.Dir+"/") {
			if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	for _, id := range ids {
		removeIDFiles(id, c.SocketPath)
	}
	removeCgroups(ids)
	removeCgroupTree(c.CgroupParent)
	c.seen.mu.Lock()
	shared := c.seen.sharedCgroup
	c.seen.mu.Unlock()
	if shared {
		removeSharedCgroupParent()
	}
	if len(mountsUnder(c.Dir)) == 0 {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, fmt.Errorf("mounts left under %s, directory kept", c.Dir))
	}
	return errors.Join(errs...)
}

// defaultRuncRoot is the shim's runc root when a task's options carry none.
const defaultRuncRoot = "/run/containerd/runc/" + criNamespace

// deleteRuncContainers force-deletes what runc still knows in this instance's runc root:
// `runc delete --force` kills every process of the container and removes its cgroups. In the
// shared default root it deletes only ids this instance recorded (a task created without the
// runtime options, which name the instance's root, lands there).
func (c *Containerd) deleteRuncContainers() error {
	root := filepath.Join(c.RuncRoot, criNamespace)
	var errs []error
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.IsDir() {
			c.seen.add(e.Name(), "")
			errs = append(errs, runcDelete(root, e.Name()))
		}
	}
	ids, _ := c.seen.snapshot()
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(defaultRuncRoot, id)); err == nil {
			errs = append(errs, runcDelete(defaultRuncRoot, id))
		}
	}
	return errors.Join(errs...)
}

func runcDelete(root, id string) error {
	out, err := exec.Command("runc", "--root", root, "delete", "--force", id).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runc delete %s: %w: %s", id, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shimPids finds this instance's shims: processes whose command line names its socket or
// a path under its directory (containerd-shim-runc-v2 ... -address SOCKET ...).
func (c *Containerd) shimPids() []int {
	return findProcesses(func(args []string) bool {
		for _, a := range args {
			if a == c.SocketPath || strings.HasPrefix(a, c.Dir+"/") {
				return true
			}
		}
		return false
	})
}

// shimSocket is where containerd 1.6 puts a shim's socket: /run/containerd/s/ followed by
// the sha256 of "<containerd socket>/<namespace>/<id>". It is fixed, not under state.
func shimSocket(containerdSocket, id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(containerdSocket, criNamespace, id)))
	return filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:]))
}

// removeIDFiles removes files outside the instance that name one sandbox or container: its
// shim socket and libcni's cached result (/var/lib/cni/results/<net>-<id>-<ifname>).
func removeIDFiles(id, containerdSocket string) {
	_ = os.Remove(shimSocket(containerdSocket, id))
	matches, _ := filepath.Glob("/var/lib/cni/results/*-" + id + "-*")
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// removeCgroups removes cgroup directories named by the ids (CRI's default parent is
// "/k8s.io"; edged may use others), a few levels deep in every hierarchy, deepest first.
func removeCgroups(ids []string) {
	if len(ids) == 0 {
		return
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hier {
		var found []string
		_ = filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(strings.TrimPrefix(p, h), "/") > 3 {
				return filepath.SkipDir
			}
			if want[d.Name()] {
				found = append(found, p)
				return filepath.SkipDir
			}
			return nil
		})
		for _, p := range found {
			_ = os.Remove(p)
		}
	}
}

// removeSharedCgroupParent removes containerd's default parent "/k8s.io" where it is empty
// (rmdir fails while another containerd's container lives there).
func removeSharedCgroupParent() {
	for _, d := range cgroupDirs("/" + criNamespace) {
		_ = os.Remove(d)
	}
}

// removeCgroupTree removes the cgroup directory parent (a path such as "/outpost-lab-x-a1")
// and everything below it in every hierarchy, deepest first; a cgroup is removed with rmdir
// once it has no processes and no children.
func removeCgroupTree(parent string) {
	if parent == "" || parent == "/" {
		return
	}
	for _, top := range cgroupDirs(parent) {
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = os.Remove(dirs[i])
		}
	}
}

// cgroupDirs lists the existing directories of a cgroup path across hierarchies.
func cgroupDirs(path string) []string {
	hier, _ := filepath.Glob("/sys/fs/cgroup/*")
	var out []string
	for _, h := range hier {
		p := filepath.Join(h, path)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}
