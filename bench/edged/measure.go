package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/test/lab"
)

// roundResult is one start round: every pod's create → Running+Ready latency.
type roundResult struct {
	Mode        string  `json:"mode"` // burst or sequential
	Pods        int     `json:"pods"`
	Ready       int     `json:"ready"`
	P50Seconds  float64 `json:"p50Seconds"`
	P99Seconds  float64 `json:"p99Seconds"`
	MaxSeconds  float64 `json:"maxSeconds"`
	WallSeconds float64 `json:"wallSeconds"`
	// LoadAvg is the machine's 1-minute load average at the round's end: the machine is
	// shared, and a busy neighbour shows here.
	LoadAvg float64   `json:"loadAvg1"`
	Seconds []float64 `json:"seconds"`
}

// tracker follows a round's pods through one watch and notes when each turns ready.
type tracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	readyAt map[string]time.Time
	last    map[string]*corev1.Pod
	readyCh chan string
}

// startRound creates n pods for node (all at once, or each after the previous one is ready)
// and measures, per pod, the time from just before its Create call to the watch event that
// shows it Running with every container ready.
func (w *world) startRound(ctx context.Context, node, round string, n int, sequential bool) (*roundResult, error) {
	ctx, cancel := context.WithTimeout(ctx, w.c.phaseTimeout)
	defer cancel()
	tr := &tracker{created: map[string]time.Time{}, readyAt: map[string]time.Time{}, last: map[string]*corev1.Pod{}, readyCh: make(chan string, n)}
	// ResourceVersion "0" serves the watch from the apiserver's cache at once; a "most recent"
	// watch needs a progress request that the lab's etcd 3.4 cannot answer.
	opts := metav1.ListOptions{LabelSelector: runLabel + "=" + round, ResourceVersion: "0"}
	wi, err := w.client.CoreV1().Pods(namespace).Watch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.follow(ctx, wi, func() (watch.Interface, error) { return w.client.CoreV1().Pods(namespace).Watch(ctx, opts) })
	}()
	defer func() { cancel(); <-done }()

	res := &roundResult{Mode: "burst", Pods: n}
	if sequential {
		res.Mode = "sequential"
	}
	start := time.Now()
	create := func(i int) error {
		p := benchPod(round, i, node)
		tr.mu.Lock()
		tr.created[p.Name] = time.Now()
		tr.mu.Unlock()
		_, err := w.client.CoreV1().Pods(namespace).Create(ctx, p, metav1.CreateOptions{})
		return err
	}
	var errs []error
	if sequential {
		for i := range n {
			if err := create(i); err != nil {
				errs = append(errs, err)
				break
			}
			if err := tr.wait(ctx, 1); err != nil {
				errs = append(errs, err)
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range n {
			wg.Go(func() {
				if err := create(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(errs) == 0 {
			errs = append(errs, tr.wait(ctx, n))
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	res.LoadAvg = loadAvg()
	var ds []time.Duration
	tr.mu.Lock()
	for name, at := range tr.readyAt {
		ds = append(ds, at.Sub(tr.created[name]))
	}
	pending := tr.pending()
	tr.mu.Unlock()
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	qs, mx := probe.Quantiles(ds, 0.5, 0.99)
	res.Ready, res.P50Seconds, res.P99Seconds, res.MaxSeconds = len(ds), qs[0].Seconds(), qs[1].Seconds(), mx.Seconds()
	for _, d := range ds {
		res.Seconds = append(res.Seconds, d.Seconds())
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("%s round: %d of %d ready: %w\n%s", res.Mode, res.Ready, n, err, pending)
	}
	return res, nil
}

// follow reads pod events until ctx ends, re-opening the watch (a bounded number of times)
// when the apiserver ends it.
func (tr *tracker) follow(ctx context.Context, wi watch.Interface, reopen func() (watch.Interface, error)) {
	for attempt := 0; attempt < 20; attempt++ {
		for ev := range wi.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			now := time.Now()
			tr.mu.Lock()
			tr.last[p.Name] = p
			_, seen := tr.readyAt[p.Name]
			if !seen && ready(p) && ev.Type != watch.Deleted {
				tr.readyAt[p.Name] = now
				tr.readyCh <- p.Name
			}
			tr.mu.Unlock()
		}
		wi.Stop()
		if ctx.Err() != nil {
			return
		}
		var err error
		if wi, err = reopen(); err != nil {
			return
		}
	}
}

// wait waits until n more pods turned ready.
func (tr *tracker) wait(ctx context.Context, n int) error {
	for range n {
		select {
		case <-tr.readyCh:
		case <-ctx.Done():
			return fmt.Errorf("pods not ready: %w", ctx.Err())
		}
	}
	return nil
}

// pending describes the pods that are not ready (tr.mu held).
func (tr *tracker) pending() string {
	var lines []string
	for name := range tr.created {
		if _, ok := tr.readyAt[name]; ok {
			continue
		}
		if p := tr.last[name]; p != nil {
			lines = append(lines, "  "+describe(p))
		} else {
			lines = append(lines, "  "+name+": no watch event")
		}
		if len(lines) == 5 {
			lines = append(lines, "  ...")
			break
		}
	}
	return strings.Join(lines, "\n")
}

// teardown deletes a round's pods and waits until the apiserver has none left and the runtime
// runs none of their containers and sandboxes.
func (w *world) teardown(ctx context.Context, round string) error {
	ctx, cancel := context.WithTimeout(ctx, w.c.phaseTimeout)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: runLabel + "=" + round}
	if err := w.client.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		return fmt.Errorf("delete pods: %w", err)
	}
	for {
		pods, err := w.client.CoreV1().Pods(namespace).List(ctx, sel)
		left := -1
		if err == nil {
			left = len(pods.Items)
		}
		running, rerr := w.runningInRuntime(ctx)
		if err == nil && rerr == nil && left == 0 && running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("%d pods left (%v), %d containers/sandboxes running (%v)", left, err, running, rerr)
			if err == nil && len(pods.Items) > 0 {
				msg += "; first: " + describe(&pods.Items[0])
			}
			return fmt.Errorf("teardown: %w: %s", ctx.Err(), msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runningInRuntime counts running containers and ready sandboxes in the containerd.
func (w *world) runningInRuntime(ctx context.Context) (int, error) {
	cs, err := w.ctd.Runtime.ListContainers(ctx, &cri.ListContainersRequest{Filter: &cri.ContainerFilter{
		State: &cri.ContainerStateValue{State: cri.ContainerState_CONTAINER_RUNNING},
	}})
	if err != nil {
		return 0, err
	}
	sbs, err := w.ctd.Runtime.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{Filter: &cri.PodSandboxFilter{
		State: &cri.PodSandboxStateValue{State: cri.PodSandboxState_SANDBOX_READY},
	}})
	if err != nil {
		return 0, err
	}
	return len(cs.Containers) + len(sbs.Items), nil
}

// removeSandboxes stops and removes every sandbox in the containerd (between phases, when
// only the finished agent's are left).
func (w *world) removeSandboxes(ctx context.Context) error {
	sbs, err := w.ctd.Runtime.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	var errs []error
	for _, sb := range sbs.Items {
		if _, err := w.ctd.Runtime.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, err)
		}
		if _, err := w.ctd.Runtime.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// loadAvg is the 1-minute load average (0 if unreadable).
func loadAvg() float64 {
	var l float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscanf(string(b), "%f", &l)
	}
	return l
}

// rssAfter waits for settle and reads pid's VmRSS.
func rssAfter(ctx context.Context, pid int, settle time.Duration) int64 {
	select {
	case <-ctx.Done():
	case <-time.After(settle):
	}
	return lab.RSS(pid)
}
