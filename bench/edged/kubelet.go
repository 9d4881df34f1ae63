package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/outpostmesh/outpost/test/lab"
)

// kubeletNode is the kubelet's Node. It carries the edge taint but not the edge label: the
// label is what makes cloudcore adopt a node (and mark it Unknown when no edgecore connects).
const kubeletNode = "kubelet-e1"

// measureKubelet runs the real kubelet on the edge host against the shared containerd.
func (w *world) measureKubelet(ctx context.Context) (*measurement, error) {
	m := &measurement{Runtime: runtimeKubelet}
	sctx, cancel := context.WithTimeout(ctx, w.c.phaseTimeout)
	defer cancel()
	if n, err := w.runningInRuntime(sctx); err != nil || n != 0 {
		return m, fmt.Errorf("containerd not clean before the kubelet: %d running (%v)", n, err)
	}
	t := time.Now()
	k, err := w.lab.CP.StartKubelet(sctx, w.host, lab.KubeletOptions{
		NodeName:    kubeletNode,
		CRIEndpoint: w.ctd.Socket,
		CNIConfDir:  w.ctd.CNIConfDir,
		PodCIDR:     "10.244.1.0/24",
		Labels:      map[string]string{"bench.outpost.dev/runtime": runtimeKubelet},
		Taints:      []corev1.Taint{{Key: edgeTaint, Effect: corev1.TaintEffectNoSchedule}},
	})
	if err != nil {
		return m, err
	}
	m.AgentReadySeconds = time.Since(t).Seconds()
	m.Version = "kubelet v1.36.3"
	logf("kubelet Ready in %.2fs", m.AgentReadySeconds)
	if err := w.measureAgent(ctx, m, kubeletNode, "k", k.Process.Pid); err != nil {
		return m, err
	}
	// Stops the kubelet, removes what is left of its sandboxes, its CNI conflist and Node, so
	// the next runtime finds a clean containerd.
	return m, k.Close()
}

// measureAgent runs the rounds against an agent that is up: idle RSS, a burst round, RSS with
// the pods running, teardown, a sequential round, teardown.
func (w *world) measureAgent(ctx context.Context, m *measurement, node, prefix string, pid int) error {
	m.RSSIdle = rssAfter(ctx, pid, w.c.settle)
	logf("%s idle RSS %d MiB", m.Runtime, m.RSSIdle>>20)
	burst, err := w.startRound(ctx, node, prefix+"b", w.c.pods, false)
	m.Burst = burst
	if err != nil {
		return err
	}
	logf("%s burst: p50 %.2fs p99 %.2fs max %.2fs", m.Runtime, burst.P50Seconds, burst.P99Seconds, burst.MaxSeconds)
	m.RSSLoaded = rssAfter(ctx, pid, w.c.settle)
	logf("%s RSS with %d pods %d MiB", m.Runtime, w.c.pods, m.RSSLoaded>>20)
	t := time.Now()
	if err := w.teardown(ctx, prefix+"b"); err != nil {
		return err
	}
	m.TeardownSeconds = time.Since(t).Seconds()
	if !w.c.sequential {
		return nil
	}
	seq, err := w.startRound(ctx, node, prefix+"s", w.c.pods, true)
	m.Sequential = seq
	if err != nil {
		return err
	}
	logf("%s sequential: p50 %.2fs p99 %.2fs max %.2fs", m.Runtime, seq.P50Seconds, seq.P99Seconds, seq.MaxSeconds)
	if err := w.teardown(ctx, prefix+"s"); err != nil {
		return fmt.Errorf("after the sequential round: %w", err)
	}
	return nil
}
