//go:build integration

package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/test/images"
)

// TestContainerd runs a containerd on two hosts of one site, runs pods on both through raw
// CRI calls (a CNI bridge pod and a host-network pod), and checks that closing the run
// leaves no namespace, mount, shim or directory behind.
func TestContainerd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := ForTest(t)
	n, err := r.NewNetwork(Topology{Sites: []SiteSpec{{Name: "a", NAT: EasyNAT, Hosts: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	hosts := n.Sites["a"].Hosts
	var cds []*Containerd
	for _, h := range hosts {
		start := time.Now()
		c, err := h.StartContainerd(ctx, ContainerdOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("containerd on %s ready with images in %v: %+v", h.Name, time.Since(start).Round(time.Millisecond), c.Images)
		cds = append(cds, c)
	}
	for _, c := range cds {
		for _, name := range images.Names() {
			st, err := c.ImageService.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: name}})
			if err != nil || st.GetImage() == nil {
				t.Fatalf("%s: image %s not listed: %v", c.Host.Name, name, err)
			}
		}
	}

	for i, c := range cds {
		writeBridgeConf(t, c, fmt.Sprintf("10.244.%d.0/24", 10+i))
		waitNetworkReady(t, ctx, c)
	}
	// Host a1: a pod that is stopped and removed by the test; a host-network pod; a container
	// that exits 3; a pod left running for the run's cleanup. Host a2: a pod left running
	// when its containerd crashes.
	podHTTP(t, ctx, cds[0], "web", true)
	hostNetworkPod(t, ctx, cds[0], true)
	exitingContainer(t, ctx, cds[0])
	podHTTP(t, ctx, cds[0], "keep", false)
	hostNetworkPod(t, ctx, cds[0], false)
	podHTTP(t, ctx, cds[1], "left", false)
	// a2's containerd crashes with its pod running: cleanup then works from runc's state.
	cds[1].Process.Kill()

	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	// a1's running pod was found through CRI at cleanup, its network namespace under state.
	if _, netns := cds[0].seen.snapshot(); len(netns) != 1 || !strings.HasPrefix(netns[0], cds[0].State+"/") {
		t.Errorf("a1: recorded pod network namespaces %v, want one under %s", netns, cds[0].State)
	}
	if !cds[0].seen.sharedCgroup {
		t.Errorf("a1: the host-network pod's default cgroup parent /%s was not noticed", criNamespace)
	}
	for _, c := range cds {
		if l := c.Leftovers(); len(l) > 0 {
			t.Errorf("%s left: %v", c.Host.Name, l)
		}
	}
	names, _ := listNetns()
	for _, ns := range names {
		if strings.Contains(ns, r.ID) || strings.HasPrefix(ns, "cni-") {
			t.Errorf("namespace left: %s", ns)
		}
	}
	if m := mountsUnder(r.Dir); len(m) > 0 {
		t.Errorf("mounts left under %s: %v", r.Dir, m)
	}
	out, _ := exec.Command("pgrep", "-af", r.Dir).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("processes left naming %s:\n%s", r.Dir, s)
	}
}

// writeBridgeConf writes the pod network the way edged will: a bridge with host-local IPAM
// whose dataDir is the instance's own.
func writeBridgeConf(t *testing.T, c *Containerd, subnet string) {
	t.Helper()
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "lab",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
			"ipam": map[string]any{
				"type": "host-local", "dataDir": c.CNIDataDir,
				"ranges": [][]map[string]string{{{"subnet": subnet}}},
				"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
			},
		}},
	}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(c.CNIConfDir, "10-lab.conflist"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitNetworkReady(t *testing.T, ctx context.Context, c *Containerd) {
	t.Helper()
	for i := 0; i < 100; i++ {
		st, err := c.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
		if err == nil {
			for _, cond := range st.GetStatus().GetConditions() {
				if cond.Type == runtimeapi.NetworkReady && cond.Status {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: CNI network not ready after writing the conflist", c.Host.Name)
}

// sandboxConfig is a pod in the instance's cgroup parent; the host-network pod uses
// containerd's default (/k8s.io/<id>), so that cleanup path runs too.
func sandboxConfig(c *Containerd, name string, hostNetwork bool) *runtimeapi.PodSandboxConfig {
	mode := runtimeapi.NamespaceMode_POD
	hostname, cgroup := name, c.CgroupParent+"/pod-"+name
	if hostNetwork {
		// A host-network sandbox must not set a hostname (no private UTS namespace).
		mode, hostname, cgroup = runtimeapi.NamespaceMode_NODE, "", ""
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name},
		Hostname:     hostname,
		LogDirectory: filepath.Join(c.Dir, "pods", name),
		Linux: &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroup, SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: mode, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD},
		}},
	}
}

// runContainer creates a sandbox and a testapp container in it and returns their ids.
func runContainer(t *testing.T, ctx context.Context, c *Containerd, sb *runtimeapi.PodSandboxConfig, args []string, env map[string]string) (sandboxID, containerID string) {
	t.Helper()
	if err := os.MkdirAll(sb.LogDirectory, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rs, err := c.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sb})
	if err != nil {
		t.Fatalf("%s: RunPodSandbox %s: %v", c.Host.Name, sb.Metadata.Name, err)
	}
	sandboxTook := time.Since(start)
	var envs []*runtimeapi.KeyValue
	for k, v := range env {
		envs = append(envs, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	start = time.Now()
	cc, err := c.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: rs.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
			Image:    &runtimeapi.ImageSpec{Image: images.TestAppImage},
			Args:     args,
			Envs:     envs,
			LogPath:  "app.log",
		},
		SandboxConfig: sb,
	})
	if err != nil {
		t.Fatalf("%s: CreateContainer: %v", c.Host.Name, err)
	}
	if _, err := c.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cc.ContainerId}); err != nil {
		t.Fatalf("%s: StartContainer: %v", c.Host.Name, err)
	}
	t.Logf("%s: pod %s: sandbox start %v, container create+start %v", c.Host.Name, sb.Metadata.Name,
		sandboxTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return rs.PodSandboxId, cc.ContainerId
}

// podHTTP runs a testapp pod on the bridge network, reaches it from the host by its pod IP,
// reads its CRI log, and (if stop) stops and removes it.
func podHTTP(t *testing.T, ctx context.Context, c *Containerd, name string, stop bool) {
	sb := sandboxConfig(c, name, false)
	sid, cid := runContainer(t, ctx, c, sb, nil, map[string]string{"PORT": "8080", "GREETING": "hello-" + name})
	st, err := c.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sid})
	if err != nil {
		t.Fatal(err)
	}
	ip := st.GetStatus().GetNetwork().GetIp()
	if net.ParseIP(ip) == nil {
		t.Fatalf("%s: pod %s has no IP: %q", c.Host.Name, name, ip)
	}
	body := httpGet(t, ctx, c.Host, net.JoinHostPort(ip, "8080"), "/hostname")
	if strings.TrimSpace(body) != name {
		t.Errorf("pod %s: /hostname = %q", name, body)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(httpGet(t, ctx, c.Host, net.JoinHostPort(ip, "8080"), "/env")), &env); err != nil || env["GREETING"] != "hello-"+name {
		t.Errorf("pod %s: /env GREETING = %q (%v)", name, env["GREETING"], err)
	}
	// Exec without the stream server (ExecSync) through testapp's own modes, and the stream
	// server's URL (what edged proxies exec/attach to).
	if _, err := c.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cid, Cmd: []string{"testapp", "touch", "/tmp/unready"}, Timeout: 10}); err != nil {
		t.Fatalf("ExecSync: %v", err)
	}
	if body := httpGet(t, ctx, c.Host, net.JoinHostPort(ip, "8080"), "/ready"); !strings.Contains(body, "/tmp/unready exists") {
		t.Errorf("pod %s: /ready after touching /tmp/unready = %q", name, body)
	}
	ex, err := c.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: cid, Cmd: []string{"testapp", "env"}, Stdout: true})
	if err != nil || !strings.HasPrefix(ex.GetUrl(), "http://"+c.StreamAddr+"/") {
		t.Errorf("Exec URL = %q (%v), want one on %s", ex.GetUrl(), err, c.StreamAddr)
	}
	logPath := filepath.Join(sb.LogDirectory, "app.log")
	waitLog(t, logPath, " stdout F testapp: GET /env 200")
	waitLog(t, logPath, " stderr F testapp: listening on")
	if !stop {
		return
	}
	if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: cid, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	cs, err := c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cid})
	if err != nil {
		t.Fatal(err)
	}
	if code := cs.GetStatus().GetExitCode(); code != 0 {
		t.Errorf("pod %s: exit code after SIGTERM = %d, want 0", name, code)
	}
	removePod(t, ctx, c, sid, cid)
}

func removePod(t *testing.T, ctx context.Context, c *Containerd, sid, cid string) {
	t.Helper()
	if _, err := c.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: cid}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sid}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sid}); err != nil {
		t.Fatal(err)
	}
}

// hostNetworkPod serves testapp in the host's own network namespace.
func hostNetworkPod(t *testing.T, ctx context.Context, c *Containerd, stop bool) {
	name, port := "hostnet", "18080"
	if !stop {
		name, port = "hostnet-keep", "18081"
	}
	sid, cid := runContainer(t, ctx, c, sandboxConfig(c, name, true), nil, map[string]string{"PORT": port})
	if body := httpGet(t, ctx, c.Host, "127.0.0.1:"+port, "/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("host-network pod: /healthz = %q", body)
	}
	if !stop {
		return
	}
	if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: cid, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	removePod(t, ctx, c, sid, cid)
}

// exitingContainer checks that a non-HTTP mode's exit code reaches CRI.
func exitingContainer(t *testing.T, ctx context.Context, c *Containerd) {
	sid, cid := runContainer(t, ctx, c, sandboxConfig(c, "exit3", false), []string{"exit", "3"}, nil)
	var cs *runtimeapi.ContainerStatusResponse
	for i := 0; i < 100; i++ {
		var err error
		if cs, err = c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cid}); err != nil {
			t.Fatal(err)
		}
		if cs.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := cs.GetStatus(); st.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || st.GetExitCode() != 3 {
		t.Errorf("exit container: state %v code %d, want EXITED 3", st.GetState(), st.GetExitCode())
	}
	removePod(t, ctx, c, sid, cid)
}

// httpGet fetches a path from inside h's namespace, retrying while the server starts.
func httpGet(t *testing.T, ctx context.Context, h *Host, addr, path string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return h.DialContext(ctx, network, addr)
		},
	}}
	defer client.CloseIdleConnections()
	var last error
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s%s from %s: %v", addr, path, h.Name, last)
	return ""
}

// waitLog waits until a line of the CRI log file contains want ("<time> <stream> F <text>").
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	for i := 0; i < 50; i++ {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.Contains(sc.Text(), want) {
					f.Close()
					return
				}
			}
			f.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Errorf("log %s lacks %q:\n%s", path, want, b)
}

// TestCleanDeadContainerds removes a dead run's containerd directory (and its mounts) and
// leaves a live run's alone.
func TestCleanDeadContainerds(t *testing.T) {
	live := ForTest(t)
	dead, err := os.MkdirTemp("", "outpost-lab-dead01-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dead) })
	mount := func(dir string) string {
		m := filepath.Join(dir, "containerd-h", "state", "m")
		if err := os.MkdirAll(m, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := sh("mount", "-t", "tmpfs", "tmpfs", m); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sh("umount", m) })
		return m
	}
	deadMount, liveMount := mount(dead), mount(live.Dir)

	cleanDeadContainerds(t.Logf)
	if m := mountsUnder(deadMount); len(m) != 0 {
		t.Errorf("dead run's mount survived: %v", m)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("dead run's directory survived: %v", err)
	}
	if m := mountsUnder(liveMount); len(m) != 1 {
		t.Errorf("live run's mount was removed")
	}
}
