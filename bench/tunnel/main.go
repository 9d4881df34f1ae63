// Command tunnel benchmarks Outpost's peer tunnels in the netns lab against baselines measured
// in the same run: quic-go on a plain UDP socket and raw TCP through one NAT (the ceiling), and
// QUIC between two bare TURN allocations on the same relay (the relay path without Outpost).
//
//	go run ./bench/tunnel [-quick] [-json]
//
// It needs root (network namespaces). Agents, relay and baselines all run in this process
// with their sockets inside lab namespaces; traffic never leaves the lab. See README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
)

type config struct {
	Quick     bool          `json:"quick"`
	Bytes     int64         `json:"bytes"`     // per throughput run, split over the streams
	Cap       time.Duration `json:"cap"`       // time cap of one throughput run
	Parallel  int           `json:"parallel"`  // streams of the parallel run
	Opens     int           `json:"opens"`     // stream opens per path
	RoundTrip int           `json:"roundTrip"` // ping-pong round trips per path
	Fresh     int           `json:"fresh"`     // fresh agent pairs per NAT combination
	Timeout   time.Duration `json:"timeout"`   // whole run
	Only      string        `json:"only,omitempty"`
	Rounds    int           `json:"rounds"` // best of
	JSON      bool          `json:"-"`
	Verbose   bool          `json:"-"`
}

func main() {
	var c config
	var mb int64
	flag.BoolVar(&c.Quick, "quick", false, "smoke run: small sizes, under a minute")
	flag.BoolVar(&c.JSON, "json", false, "print results as JSON instead of tables")
	flag.Int64Var(&mb, "mb", 256, "MiB per throughput run (split over the streams)")
	flag.DurationVar(&c.Cap, "cap", 10*time.Second, "time cap of one throughput run")
	flag.IntVar(&c.Parallel, "parallel", 8, "streams of the parallel throughput run")
	flag.IntVar(&c.Opens, "opens", 200, "stream opens per path (open latency)")
	flag.IntVar(&c.RoundTrip, "rtts", 1000, "64-byte round trips per path")
	flag.IntVar(&c.Fresh, "fresh", 5, "fresh agent pairs per NAT combination (first byte, direct upgrade)")
	flag.IntVar(&c.Rounds, "rounds", 2, "rounds over all paths; the best value of each metric is reported")
	flag.DurationVar(&c.Timeout, "timeout", 4*time.Minute, "abort the whole run after this long")
	flag.StringVar(&c.Only, "only", "", "comma-separated parts to run: "+strings.Join(allParts, ",")+" (default all)")
	flag.BoolVar(&c.Verbose, "log", false, "log agents and relay through klog (with -v=N for more)")
	klog.InitFlags(nil)
	flag.Parse()
	c.Bytes = mb << 20
	c.Rounds = max(c.Rounds, 1)
	if c.Quick {
		c.Bytes, c.Cap, c.Opens, c.RoundTrip, c.Fresh, c.Rounds = 64<<20, 3*time.Second, 50, 200, 2, 1
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tunnel:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	lr, err := lab.NewRun(logf)
	if err != nil {
		return err
	}
	defer func() {
		if err := lr.Close(); err != nil {
			logf("lab cleanup: %v", err)
		}
	}()
	began := time.Now()
	w, err := newWorld(ctx, lr, c.Verbose)
	if err != nil {
		return err
	}
	logf("lab %s up in %v", lr.ID, time.Since(began).Round(time.Millisecond))
	res := &results{Date: time.Now().UTC().Format("2006-01-02"), Config: c,
		Machine: fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())}
	res.RSSStart = lab.RSS(os.Getpid())
	res.GoroutinesStart = runtime.NumGoroutine()

	paths := []struct {
		key, label string
		make       func(round int) (*setup, error)
	}{
		{keyQUIC, "quic-go, plain UDP socket (a1 → public host, 1 NAT)", func(int) (*setup, error) { return w.plainQUIC(ctx, "a1") }},
		{keyDirect, "Outpost direct (a1 ↔ c1, easy/easy NAT)", func(r int) (*setup, error) {
			return w.outpostPair(ctx, "a1", "c1", r, tunnel.PathDirect)
		}},
		{keyTCP, "raw TCP (a1 → public host, 1 NAT)", func(int) (*setup, error) { return w.plainTCP(ctx, "a1") }},
		{keyTURN, "QUIC over 2 bare TURN allocations (b1 ↔ d1)", func(int) (*setup, error) { return w.turnQUIC(ctx, "b1", "d1") }},
		{keyRelay, "Outpost relay (b1 ↔ d1, hard/hard NAT)", func(r int) (*setup, error) {
			return w.outpostPair(ctx, "b1", "d1", r, tunnel.PathRelay)
		}},
	}
	for _, p := range paths {
		if c.runs(p.key) {
			res.Paths = append(res.Paths, pathResult{Key: p.key, Label: p.label})
		}
	}
	// Rounds go over all paths in turn, so a noisy moment on the shared machine hits one
	// round of each path rather than all rounds of one; the best value of each metric counts.
	for round := range c.Rounds {
		i := 0
		for _, p := range paths {
			if !c.runs(p.key) {
				continue
			}
			logf("round %d/%d: %s", round+1, c.Rounds, p.label)
			var pr pathResult
			err := measurePath(ctx, c, func() (*setup, error) { return p.make(round) }, &pr)
			if err != nil {
				logf("  %s: %v", p.key, err)
			}
			res.Paths[i].merge(pr, err)
			i++
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
		}
	}

	if !c.runs(keyFresh) {
		c.Fresh = 0
	}
	logf("measuring fresh peers: %d easy/easy (a2 → c2) and %d hard/hard (b2 → d2) pairs", c.Fresh, c.Fresh)
	var fbEasy, fbHard, upg []time.Duration
	for i := range c.Fresh {
		r, err := w.fresh(ctx, "a2", "c2", i, true)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			logf("  %v", err)
		} else {
			fbEasy = append(fbEasy, r.firstByte)
			if r.upgraded {
				upg = append(upg, r.upgrade)
			} else {
				res.NotUpgraded++
			}
		}
		r, err = w.fresh(ctx, "b2", "d2", i, false)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			logf("  %v", err)
		} else {
			fbHard = append(fbHard, r.firstByte)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	res.FirstByteEasy, res.FirstByteHard, res.Upgrade = summarizeAll(fbEasy), summarizeAll(fbHard), summarizeAll(upg)
	res.RSSEnd = lab.RSS(os.Getpid())
	// Every path and agent is closed by now: what is left over is a leak (the relay and the
	// lab are still up, as at the start).
	time.Sleep(100 * time.Millisecond)
	res.GoroutinesEnd = runtime.NumGoroutine()
	res.Seconds = time.Since(began).Seconds()
	res.ratios()
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(os.Stdout)
	return nil
}

var allParts = []string{keyQUIC, keyDirect, keyTCP, keyTURN, keyRelay, keyFresh}

// runs says whether part is selected by -only.
func (c config) runs(part string) bool {
	return c.Only == "" || slices.Contains(strings.Split(c.Only, ","), part)
}

// measurePath sets a path up, measures it and tears it down.
func measurePath(ctx context.Context, c config, newSetup func() (*setup, error), pr *pathResult) error {
	t0 := time.Now()
	s, err := newSetup()
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer s.close()
	pr.SetupMs = ms(time.Since(t0))
	if pr.One, err = throughput(ctx, s.open, 1, c.Bytes, c.Cap); err != nil {
		return fmt.Errorf("1 stream: %w", err)
	}
	if pr.Many, err = throughput(ctx, s.open, c.Parallel, c.Bytes, c.Cap); err != nil {
		return fmt.Errorf("%d streams: %w", c.Parallel, err)
	}
	if pr.Open, err = opens(ctx, s.open, c.Opens); err != nil {
		return fmt.Errorf("opens: %w", err)
	}
	if pr.RTT, err = pingPong(ctx, s.open, c.RoundTrip); err != nil {
		return fmt.Errorf("ping-pong: %w", err)
	}
	return nil
}
