package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
)

// cloudServer is the bench cloudcore process (./server) of one round.
type cloudServer struct {
	proc    *lab.Process
	hubURL  string
	metrics string
}

// buildServer builds ./server into the run's directory.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bench-cloudcore-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/cloudcore/server")
	cmd.Dir = lab.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build server: %w\n%s", err, out)
	}
	return bin, nil
}

// startServer starts the server and waits until it is ready (informers synced, hub listening).
func startServer(ctx context.Context, run *lab.Run, bin, name string, args []string) (*cloudServer, error) {
	ready := filepath.Join(run.Dir, name+".ready")
	os.Remove(ready)
	p, err := run.Start(nil, name, append([]string{bin, "-ready-file=" + ready}, args...), lab.ProcOptions{Quiet: true})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && strings.HasSuffix(string(b), "\n") {
			f := strings.Fields(string(b))
			if len(f) == 2 {
				return &cloudServer{proc: p, hubURL: "wss://" + f[0] + "/hub", metrics: "http://" + f[1] + "/metrics"}, nil
			}
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("server exited: %v\n%s", p.Err(), p.Tail(20))
		case <-ctx.Done():
			p.Stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop(5 * time.Second)
			return nil, fmt.Errorf("server not ready in 60 s:\n%s", p.Tail(20))
		}
	}
}

func (s *cloudServer) rss() int64 { return lab.RSS(s.proc.Pid) }

// freeOSMemory makes the server collect garbage and return it to the OS.
func (s *cloudServer) freeOSMemory(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(s.metrics, "metrics")+"debug/freeosmemory", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// scrape reads unlabelled samples (and sums labelled ones) of the named metrics.
func (s *cloudServer) scrape(ctx context.Context, names ...string) map[string]float64 {
	out := map[string]float64{}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.metrics, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, ok = strings.Cut(line, "} ")
		}
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
			out[name] += v
		}
	}
	return out
}

// peakSampler records the highest RSS of a process, sampled every 50 ms, and calls abort once
// when it passes limit (a guard for a machine shared with others).
type peakSampler struct {
	peak    atomic.Int64
	tripped atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func samplePeak(pid int, limit int64, abort func()) *peakSampler {
	p := &peakSampler{stop: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if r := lab.RSS(pid); r > p.peak.Load() {
				p.peak.Store(r)
			}
			if limit > 0 && p.peak.Load() > limit && p.tripped.CompareAndSwap(false, true) {
				abort()
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakSampler) done() int64 {
	close(p.stop)
	p.wg.Wait()
	return p.peak.Load()
}
