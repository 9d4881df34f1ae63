// Command edged measures pod start latency and agent memory on one node, first with the real
// kubelet v1.36.3 and then with edgecore (edged enabled, joined to a cloudcore), both on the
// same lab containerd, in one run:
//
//	go run ./bench/edged                 # 30 pods, burst and one at a time, both runtimes
//	go run ./bench/edged -json
//	go run ./bench/edged -runtimes kubelet -pods 10
//
// It needs root (the lab's namespaces and containerd). All traffic stays inside the lab;
// everything it starts is stopped and removed on exit and on SIGINT/SIGTERM. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
)

// config is the command line.
type benchConfig struct {
	pods         int
	runtimes     []string
	sequential   bool
	settle       time.Duration
	phaseTimeout time.Duration
	jsonOut      bool
	logs         string
}

// Runtimes the bench knows, in the order it runs them.
const (
	runtimeKubelet  = "kubelet"
	runtimeEdgecore = "edgecore"
)

func main() {
	var c benchConfig
	flag.IntVar(&c.pods, "pods", 30, "pods per measurement (1..110, the kubelet's maxPods)")
	rts := flag.String("runtimes", "kubelet,edgecore", "comma-separated runtimes to measure, in this order")
	flag.BoolVar(&c.sequential, "sequential", true, "also start the pods one at a time")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "wait before each RSS reading")
	flag.DurationVar(&c.phaseTimeout, "phase-timeout", 3*time.Minute, "deadline of each phase (agent start, a start round, a teardown)")
	flag.BoolVar(&c.jsonOut, "json", false, "print the results as JSON")
	flag.StringVar(&c.logs, "logs", "", "copy the kubelet's, edgecore's, cloudcore's and containerd's logs into this directory")
	flag.Parse()
	for _, r := range strings.Split(*rts, ",") {
		r = strings.TrimSpace(r)
		if r != runtimeKubelet && r != runtimeEdgecore {
			fmt.Fprintf(os.Stderr, "bench/edged: unknown runtime %q (want %s or %s)\n", r, runtimeKubelet, runtimeEdgecore)
			os.Exit(2)
		}
		c.runtimes = append(c.runtimes, r)
	}
	if c.pods < 1 || c.pods > 110 {
		fmt.Fprintf(os.Stderr, "bench/edged: -pods %d: want 1..110\n", c.pods)
		os.Exit(2)
	}
	if c.phaseTimeout <= 0 || c.settle < 0 {
		fmt.Fprintln(os.Stderr, "bench/edged: -phase-timeout must be positive and -settle not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	res, err := run(ctx, c)
	stop()
	probe.Finish("bench/edged", res != nil, res, func(f *os.File) { res.print(f) }, c.jsonOut, err)
}

func logf(format string, args ...any) { probe.Logf(format, args...) }
