package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/outpostmesh/outpost/test/edgelab"
	"github.com/outpostmesh/outpost/test/lab"
)

// world is what both runtimes share: the control plane with cloudcore, one edge host behind a
// NAT, and its containerd.
type world struct {
	c      benchConfig
	run    *lab.Run
	lab    *edgelab.Lab
	client kubernetes.Interface
	host   *lab.Host
	ctd    *lab.Containerd
	bin    string
}

// Objects of the bench.
const (
	namespace = "bench-edged"
	configMap = "bench-config"
	// edgeTaint keeps other pods off both nodes; the bench's pods tolerate it.
	edgeTaint = "node-role.kubernetes.io/edge"
)

// run sets up the world and measures each runtime in turn. Results gathered so far are
// returned with the error.
func run(ctx context.Context, c benchConfig) (res *results, err error) {
	start := time.Now()
	r, err := lab.NewRun(logf)
	if err != nil {
		return nil, err
	}
	res = &results{Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), Pods: c.pods, KubeEdgeP99Seconds: 4.1}
	w := &world{c: c, run: r, bin: filepath.Join(r.Dir, "bin")}
	defer func() {
		if c.logs != "" {
			copyLogs(r.Dir, c.logs)
		}
		if cerr := r.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
		res.WallSeconds = time.Since(start).Seconds()
	}()
	if err := w.setup(ctx); err != nil {
		return res, err
	}
	logf("lab ready in %v", time.Since(start).Round(time.Millisecond))
	for _, rt := range c.runtimes {
		var m *measurement
		switch rt {
		case runtimeKubelet:
			m, err = w.measureKubelet(ctx)
		case runtimeEdgecore:
			m, err = w.measureEdgecore(ctx)
		}
		if m != nil {
			res.Runtimes = append(res.Runtimes, m)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", rt, err)
		}
	}
	return res, nil
}

// setup builds the binaries and starts the lab (control plane, cloudcore, site "e" with one
// host) and the host's containerd, and creates the namespace, its ServiceAccount (nobody runs
// a controller-manager) and the ConfigMap the pods use.
func (w *world) setup(ctx context.Context) error {
	t := time.Now()
	if err := edgelab.Build(w.bin); err != nil {
		return err
	}
	logf("built cloudcore, edgecore, outpost in %v", time.Since(t).Round(time.Millisecond))
	sctx, cancel := context.WithTimeout(ctx, w.c.phaseTimeout)
	defer cancel()
	l, err := edgelab.Start(sctx, w.run, edgelab.Options{
		Bin:   w.bin,
		Sites: []lab.SiteSpec{{Name: "e", NAT: lab.EasyNAT, Hosts: 1}},
	})
	if err != nil {
		return err
	}
	w.lab, w.client, w.host = l, l.Client, l.Net.Sites["e"].Hosts[0]
	if w.ctd, err = w.host.StartContainerd(sctx, lab.ContainerdOptions{}); err != nil {
		return err
	}
	objs := []func() error{
		func() error {
			_, err := w.client.CoreV1().Namespaces().Create(sctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := w.client.CoreV1().ServiceAccounts(namespace).Create(sctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := w.client.CoreV1().ConfigMaps(namespace).Create(sctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: configMap},
				Data:       map[string]string{"greeting": "hello from bench/edged", "app.conf": "mode=bench\n"},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("setup: %w", err)
		}
	}
	return nil
}

func machine() string {
	host, _ := os.Hostname()
	b, _ := os.ReadFile("/proc/meminfo")
	var kb int64
	_, _ = fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
	return fmt.Sprintf("%s, %d CPU, %.0f GiB RAM", host, runtime.NumCPU(), float64(kb)/(1<<20))
}

// copyLogs keeps the run's process logs (the run directory goes at Close).
func copyLogs(runDir, dst string) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		logf("logs: %v", err)
		return
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(runDir, "logs"), dst).CombinedOutput(); err != nil {
		logf("logs: %v: %s", err, out)
	}
}
