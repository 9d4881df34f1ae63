package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/test/edgelab"
	"github.com/outpostmesh/outpost/test/lab"
)

// edgePodCIDR is the edge node's pod network (nobody runs a controller-manager to allocate one);
// the kubelet's node had 10.244.1.0/24.
const edgePodCIDR = "10.244.2.0/24"

// measureEdgecore joins the edge host to cloudcore as test/edgelab does, enables edged on the
// shared containerd and runs the same rounds.
func (w *world) measureEdgecore(ctx context.Context) (*measurement, error) {
	m := &measurement{Runtime: runtimeEdgecore, Version: "edgecore (this tree)"}
	sctx, cancel := context.WithTimeout(ctx, w.c.phaseTimeout)
	defer cancel()
	if n, err := w.runningInRuntime(sctx); err != nil || n != 0 {
		return m, fmt.Errorf("containerd not clean before edgecore: %d running (%v)", n, err)
	}
	e, err := w.lab.Join(sctx, w.host)
	if err != nil {
		return m, err
	}
	if err := w.enableEdged(e); err != nil {
		return m, err
	}
	t := time.Now()
	p, err := w.startEdgecore(sctx, e)
	if err != nil {
		return m, err
	}
	if err := w.adoptEdgeNode(sctx, e.Name, p); err != nil {
		return m, err
	}
	m.AgentReadySeconds = time.Since(t).Seconds()
	logf("edgecore Ready in %.2fs", m.AgentReadySeconds)
	if err := w.measureAgent(ctx, m, e.Name, "e", p.Pid); err != nil {
		return m, err
	}
	return m, w.stopEdgecore(ctx, e, p)
}

// stopEdgecore leaves the containerd as the kubelet's Close does, so that a kubelet phase may
// follow: edgecore stopped (its relist would take the kubelet's sandboxes for orphans), edged's
// conflist removed (containerd uses the first conflist only), the Node deleted.
func (w *world) stopEdgecore(ctx context.Context, e *edgelab.Edge, p *lab.Process) error {
	p.Stop(10 * time.Second)
	// edged keeps stopped sandboxes for a while; without its conflist containerd could no
	// longer tear down their network, so they go first.
	if err := w.removeSandboxes(ctx); err != nil {
		return err
	}
	entries, err := os.ReadDir(w.ctd.CNIConfDir)
	if err != nil {
		return err
	}
	for _, f := range entries {
		if err := os.Remove(filepath.Join(w.ctd.CNIConfDir, f.Name())); err != nil {
			return err
		}
	}
	err = w.client.CoreV1().Nodes().Delete(ctx, e.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// enableEdged turns edged on in the configuration `outpost join` wrote, on the lab's
// containerd, with its directories inside the run.
func (w *world) enableEdged(e *edgelab.Edge) error {
	cfg, err := config.Load(e.Config)
	if err != nil {
		return err
	}
	cfg.Edged.Enabled = true
	cfg.Edged.CRIEndpoint = w.ctd.Socket
	cfg.Edged.RootDir = filepath.Join(e.Dir, "edged")
	cfg.Edged.PodLogsDir = filepath.Join(e.Dir, "pods")
	cfg.Edged.CNIConfDir = w.ctd.CNIConfDir
	// What edged mounts (memory emptyDirs, token tmpfs) must not outlive the run; the
	// bench's pods need none, this is for a broken run.
	root := cfg.Edged.RootDir
	w.run.Defer("edged mounts", func() error { return unmountUnder(root) })
	b, err := cfg.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(e.Config, b, 0o644)
}

// startEdgecore starts edgecore in the host's network namespace only, as the kubelet runs
// (lab.ProcOptions.NetnsOnly: its volume mounts must be visible to containerd).
func (w *world) startEdgecore(ctx context.Context, e *edgelab.Edge) (*lab.Process, error) {
	p, err := w.run.Start(e.Host, "edgecore-"+e.Name, []string{
		filepath.Join(w.bin, "edgecore"), "--config", e.Config, "-v=1"}, lab.ProcOptions{Quiet: true, NetnsOnly: true})
	if err != nil {
		return nil, err
	}
	e.Proc = p
	for i := 0; ; i++ {
		c, err := e.Host.DialContext(ctx, "tcp", edgelab.EdgeHealthAddr)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("edgecore exited: %v\n%s", p.Err(), p.Tail(30))
		case <-ctx.Done():
			return nil, fmt.Errorf("edgecore not serving %s: %w\n%s", edgelab.EdgeHealthAddr, ctx.Err(), p.Tail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// adoptEdgeNode gives the edge Node what the kubelet's got (pod CIDR, taint) and waits for
// Ready.
func (w *world) adoptEdgeNode(ctx context.Context, name string, p *lab.Process) error {
	return lab.WaitNodeReady(ctx, w.client, name, p, func(node *corev1.Node) error {
		return w.patchEdgeNode(ctx, node)
	})
}

func (w *world) patchEdgeNode(ctx context.Context, node *corev1.Node) error {
	spec := map[string]any{}
	if node.Spec.PodCIDR == "" {
		spec["podCIDR"], spec["podCIDRs"] = edgePodCIDR, []string{edgePodCIDR}
	}
	taints := node.Spec.Taints
	has := false
	for _, t := range taints {
		has = has || t.Key == edgeTaint
	}
	if !has {
		spec["taints"] = append(taints, corev1.Taint{Key: edgeTaint, Effect: corev1.TaintEffectNoSchedule})
	}
	patch := map[string]any{"metadata": map[string]any{"labels": map[string]string{
		edgeTaint: "", "bench.outpost.dev/runtime": runtimeEdgecore,
	}}}
	if len(spec) > 0 {
		patch["spec"] = spec
	}
	b, _ := json.Marshal(patch)
	_, err := w.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, b, metav1.PatchOptions{})
	return err
}

// unmountUnder lazily unmounts what is mounted at or below dir, deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if err := unmount(points[i]); err != nil {
			return fmt.Errorf("unmount %s: %w", points[i], err)
		}
	}
	return nil
}
