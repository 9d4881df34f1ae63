// Command cloudcore is the cloudcore load generator: many simulated edge nodes in one process
// speak the real hub protocol (TLS client certificate, websocket, yamux, hubproto control
// stream) to one bench cloudcore (./server: hub + edgecontroller, run as its own process so
// that its memory is measured alone) in front of a real kube-apiserver and etcd from the lab.
//
//	go run ./bench/cloudcore               # 1,000 and 10,000 edges
//	go run ./bench/cloudcore -quick        # 200 and 1,000
//	go run ./bench/cloudcore -nodes 500 -json
//
// It needs root (the lab's control plane runs in a network namespace). All traffic stays on
// loopback and inside the lab; everything it starts is stopped on exit and on SIGINT.
// See README.md for what is measured and the results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
)

// config is the command line.
type config struct {
	nodes        []int
	mesh         string // auto, on, off
	meshAutoMax  int
	conc         int
	createConc   int
	idle         time.Duration
	phaseTimeout time.Duration
	maxServerRSS int64
	keepAlive    time.Duration
	jsonOut      bool
	footprint    bool
	logs         string
	heartbeat    time.Duration
}

func main() {
	var c config
	nodes := flag.String("nodes", "1000,10000", "comma-separated edge counts, one round each")
	quick := flag.Bool("quick", false, "short run: -nodes 200,1000")
	flag.StringVar(&c.mesh, "mesh", "on", "edgecontroller MeshObjects: on, off, or auto (on up to -mesh-auto-max edges)")
	flag.IntVar(&c.meshAutoMax, "mesh-auto-max", 2000, "largest round that -mesh auto runs with MeshObjects on")
	flag.IntVar(&c.conc, "conc", 64, "concurrent dials when connecting and in the reconnect storm")
	flag.IntVar(&c.createConc, "create-conc", 32, "concurrent Node creates")
	// 30 s holds exactly two hub pings (15 s) and one edge yamux keepalive (30 s) per edge.
	flag.DurationVar(&c.idle, "idle", 30*time.Second, "idle window for the heartbeat byte count (a multiple of 30 s)")
	flag.DurationVar(&c.phaseTimeout, "phase-timeout", 90*time.Second, "deadline of each connect, delivery and storm phase")
	maxRSS := flag.Int64("max-server-rss-mb", 6000, "abort a phase when the server's RSS passes this")
	flag.DurationVar(&c.keepAlive, "edge-keepalive", 30*time.Second, "yamux keepalive of the simulated edges (edgecore/hubclient's default; 0: off)")
	flag.BoolVar(&c.jsonOut, "json", false, "print the results as JSON")
	flag.DurationVar(&c.heartbeat, "heartbeat", 15*time.Second, "window of Node status heartbeats (every node every 10 s) in rounds with mesh objects; 0: skip")
	flag.StringVar(&c.logs, "logs", "", "copy the bench cloudcore's logs into this directory")
	flag.BoolVar(&c.footprint, "footprint", true, "also measure the edge footprint (metastore + metaserver)")
	flag.Parse()
	if *quick {
		*nodes = "200,1000"
	}
	c.maxServerRSS = *maxRSS << 20
	for _, s := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bad -nodes %q\n", *nodes)
			os.Exit(2)
		}
		c.nodes = append(c.nodes, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	res, err := run(ctx, c)
	stop()
	probe.Finish("bench/cloudcore", res != nil, res, func(f *os.File) { res.print(f) }, c.jsonOut, err)
}

func logf(format string, args ...any) { probe.Logf(format, args...) }

// run sets up the lab and runs one round per edge count. Results gathered so far are returned
// with the error.
func run(ctx context.Context, c config) (res *results, err error) {
	raiseNoFile()
	start := time.Now()
	r, err := lab.NewRun(logf)
	if err != nil {
		return nil, err
	}
	defer func() {
		if res != nil {
			res.WallSeconds = time.Since(start).Seconds()
		}
		if cerr := r.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	res = &results{Date: time.Now().UTC().Format("2006-01-02"), Machine: machine()}
	bin, err := buildServer(ctx, r.Dir)
	if err != nil {
		return res, err
	}
	t := time.Now()
	cp, err := r.StartControlPlane(ctx, lab.ControlPlaneOptions{})
	if err != nil {
		return res, err
	}
	logf("control plane ready in %v", time.Since(t).Round(time.Millisecond))
	rc := cp.RestConfig()
	rc.QPS, rc.Burst = 2000, 4000
	client, err := kubernetesClient(rc)
	if err != nil {
		return res, err
	}
	ca, err := pki.NewCA("bench-cluster-ca", 0)
	if err != nil {
		return res, err
	}
	caCert, caKey := filepath.Join(r.Dir, "hub-ca.crt"), filepath.Join(r.Dir, "hub-ca.key")
	if err := errors.Join(os.WriteFile(caCert, ca.CertPEM, 0o600), os.WriteFile(caKey, ca.KeyPEM, 0o600)); err != nil {
		return res, err
	}
	b := &bench{c: c, run: r, client: client, bin: bin, kubeconfig: cp.Kubeconfig, caCert: caCert, caKey: caKey,
		certs: &certCache{ca: ca, pool: ca.Pool()}, apiserverPid: cp.APIServer.Pid, etcdPid: cp.Etcd.Pid}
	for _, n := range c.nodes {
		rd, err := b.round(ctx, n)
		if rd != nil {
			res.Rounds = append(res.Rounds, rd)
		}
		if err != nil {
			return res, fmt.Errorf("round %d: %w", n, err)
		}
	}
	if c.footprint {
		fp, err := edgeFootprint(ctx, r)
		if err != nil {
			return res, err
		}
		res.Edge = fp
	}
	return res, nil
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPU (GOMAXPROCS), %s", host, numCPU(), memTotal())
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return fmt.Sprintf("%.0f GB RAM", float64(kb)/(1<<20))
		}
	}
	return "? RAM"
}

// raiseNoFile lifts the open-file soft limit to the hard limit (at most 65536): one descriptor
// per edge. Raising the hard limit needs CAP_SYS_RESOURCE, which root lacks here.
func raiseNoFile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	want := uint64(65536)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: max(want, l.Max)}); err == nil {
		return
	}
	l.Cur = min(want, l.Max)
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

func noFileLimit() uint64 {
	var l syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}
