// Command mesh benchmarks the mesh agent's service proxy in the meshlab (issue 4): a client
// on a1 calls a Service's ClusterIP (iptables REDIRECT → a1's edgemesh-agent → the endpoint)
// and, in the same run, the same endpoint directly; across sites it calls endpoints at a
// hard-NAT site (relay path) and an easy-NAT site (direct QUIC path) and compares them with
// quic-go on a plain UDP socket (the tunnel's ceiling).
//
//	go run ./bench/mesh [-quick] [-json]
//
// It needs root (network namespaces, iptables). The agents and the relay are real processes
// in lab namespaces; the client, the endpoint servers and the QUIC baseline run in this
// process with their sockets inside lab namespaces. Traffic never leaves the lab. See
// README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
)

type config struct {
	Quick    bool          `json:"quick"`
	Bytes    int64         `json:"bytes"`    // per throughput run, split over the connections
	Cap      time.Duration `json:"cap"`      // time cap of one throughput run
	Parallel int           `json:"parallel"` // connections of the parallel run
	RTTs     int           `json:"roundTrips"`
	CPS      time.Duration `json:"cpsDuration"`      // per connections-per-second run, same site
	CPSCross time.Duration `json:"cpsCrossDuration"` // per connections-per-second run, cross site
	Clients  int           `json:"cpsClients"`       // concurrent clients of the parallel cps run
	Timeout  time.Duration `json:"timeout"`
	JSON     bool          `json:"-"`
	Verbose  bool          `json:"-"`
	Logs     string        `json:"-"` // copy the agents' and relay's logs here before cleanup
}

func main() {
	var c config
	var mb int64
	flag.BoolVar(&c.Quick, "quick", false, "smoke run: small sizes, under a minute")
	flag.BoolVar(&c.JSON, "json", false, "print results as JSON instead of tables")
	flag.Int64Var(&mb, "mb", 512, "MiB per throughput run (split over the connections)")
	flag.DurationVar(&c.Cap, "cap", 10*time.Second, "time cap of one throughput run")
	flag.IntVar(&c.Parallel, "parallel", 8, "connections of the parallel throughput run")
	flag.IntVar(&c.RTTs, "rtts", 5000, "64-byte round trips per path")
	flag.DurationVar(&c.CPS, "cps", 5*time.Second, "duration of a connections-per-second run, same site")
	flag.DurationVar(&c.CPSCross, "cps-cross", 2*time.Second, "duration of a connections-per-second run across sites")
	flag.IntVar(&c.Clients, "clients", 8, "concurrent clients of the parallel connections-per-second run")
	flag.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "abort the whole run after this long")
	flag.BoolVar(&c.Verbose, "v", false, "log the lab (process output, namespaces) to stderr")
	flag.StringVar(&c.Logs, "logs", "", "copy the agents' and the relay's logs into this directory at the end")
	flag.Parse()
	c.Bytes = mb << 20
	if c.Quick {
		c.Bytes, c.Cap, c.RTTs, c.CPS, c.CPSCross = 32<<20, 2*time.Second, 500, time.Second, 500*time.Millisecond
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/mesh:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	began := time.Now()
	say := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(f, a...))
	}
	labLog := func(string, ...any) {}
	if c.Verbose {
		labLog = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	r, err := lab.NewRun(labLog)
	if err != nil {
		return err
	}
	defer func() {
		if err := r.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/mesh: lab cleanup:", err)
		}
	}()
	if c.Logs != "" {
		// Registered before any process starts, so it runs after they stopped (their last
		// lines included) and before the run's directory is removed.
		r.Defer("copy logs", func() error { return copyLogs(filepath.Join(r.Dir, "logs"), c.Logs) })
	}
	w, err := newWorld(ctx, r, say)
	if err != nil {
		return err
	}
	say("lab %s up: sites a (easy NAT), b (hard NAT), c (easy NAT); agents on a1, b1, c1", r.ID)
	res := &results{Date: time.Now().UTC().Format("2006-01-02"), Config: c,
		Machine: fmt.Sprintf("%d CPUs, load %s, %s", runtime.NumCPU(), loadAvg(), runtime.Version())}
	a1 := w.m.Agents["a1"]
	res.AgentA1.RSSStart = lab.RSS(a1.Pid)

	paths, closePaths, err := w.paths(ctx, c, say, res)
	if err != nil {
		return err
	}
	defer closePaths()
	res.AgentA1.RSSWarm = lab.RSS(a1.Pid)
	cpu0 := lab.CPUSeconds(a1.Pid)
	if err := measureAll(ctx, w, c, paths, say); err != nil {
		return err
	}
	res.AgentA1.CPUSeconds = lab.CPUSeconds(a1.Pid) - cpu0
	res.AgentA1.RSSEnd = lab.RSS(a1.Pid)
	res.AgentA1.PeakRSS = lab.PeakRSS(a1.Pid)
	for _, h := range agentHosts[1:] {
		res.OtherAgents = append(res.OtherAgents, agentMem{Node: h, RSS: lab.RSS(w.m.Agents[h].Pid), PeakRSS: lab.PeakRSS(w.m.Agents[h].Pid)})
	}
	for _, peer := range []string{"b1", "c1"} {
		if p, ok := w.peerPath(peer); ok {
			res.PeerPathsEnd = append(res.PeerPathsEnd, fmt.Sprintf("%s: %s (rtt %v)", peer, p.Path, p.RTT.Round(time.Microsecond)))
		}
	}
	for _, p := range paths {
		res.Paths = append(res.Paths, p.res)
	}
	res.finish()
	res.Seconds = time.Since(began).Seconds()
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(os.Stdout)
	return nil
}

// copyLogs copies every process log of the run (agents, relay, control plane) into dir.
func copyLogs(from, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) < 14 {
		return "?"
	}
	return string(b[:14])
}
