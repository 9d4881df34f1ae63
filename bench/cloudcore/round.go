package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/outpostmesh/outpost/test/lab"
)

// bench is what the rounds share.
type bench struct {
	c                     config
	run                   *lab.Run
	client                kubernetes.Interface
	bin, kubeconfig       string
	caCert, caKey         string
	certs                 *certCache
	apiserverPid, etcdPid int
}

func kubernetesClient(rc *rest.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(rc)
}

func numCPU() int { return runtime.GOMAXPROCS(0) }

// round measures one edge count against a fresh server process.
func (b *bench) round(ctx context.Context, n int) (*round, error) {
	c := b.c
	rd := &round{Nodes: n, Mesh: c.mesh == "on" || (c.mesh == "auto" && n <= c.meshAutoMax)}
	if uint64(n)+256 > noFileLimit() {
		return nil, fmt.Errorf("%d edges need more than the open-file limit %d", n, noFileLimit())
	}

	logf("round %d: creating Node objects", n)
	t := time.Now()
	created, err := createNodes(ctx, b.client, n, c.createConc)
	rd.NodesCreated, rd.CreateSeconds = created, time.Since(t).Seconds()
	if err != nil {
		return rd, err
	}
	logf("round %d: created %d nodes in %.1f s", n, created, rd.CreateSeconds)
	t = time.Now()
	tlsCfgs, err := b.certs.get(n)
	if err != nil {
		return rd, err
	}
	rd.CertSeconds = time.Since(t).Seconds()

	srv, err := startServer(ctx, b.run, b.bin, fmt.Sprintf("cloudcore-%d", n), []string{
		"-kubeconfig=" + b.kubeconfig, "-ca-cert=" + b.caCert, "-ca-key=" + b.caKey,
		"-mesh=" + strconv.FormatBool(rd.Mesh),
		// The grace period would mark edges not yet connected Ready=Unknown (N status writes,
		// each fanned out to every edge with mesh objects): keep it out of the measurement.
		"-grace-period=30m",
	})
	if err != nil {
		return rd, err
	}
	defer func() {
		srv.proc.Stop(10 * time.Second)
		if c.logs != "" {
			keepLog(srv.proc.LogPath, c.logs)
		}
	}()
	f := &fleet{url: srv.hubURL, keepAlive: c.keepAlive, wbufs: &sync.Pool{}, logf: logf}
	if err := b.expect(ctx, f, rd); err != nil {
		return rd, err
	}
	expected := f.expected.Load()
	for i := range n {
		f.edges = append(f.edges, &edge{id: i, name: nodeName(i), tls: tlsCfgs[i], f: f})
	}
	defer f.dropAll()

	sleep(ctx, 3*time.Second)
	rd.Server.Before = b.snapshot(ctx, srv)

	// Connect.
	logf("round %d: connecting %d edges (mesh objects %v, %d objects per initial sync)", n, n, rd.Mesh, expected)
	pctx, cancel := context.WithTimeout(ctx, c.phaseTimeout)
	peak := samplePeak(srv.proc.Pid, c.maxServerRSS, cancel)
	cpu0 := b.cpu(srv)
	down0 := f.down.Load()
	t = time.Now()
	failed := f.connectAll(pctx, c.conc)
	rd.Connect.HelloSeconds = time.Since(t).Seconds()
	rd.Connect.Failed = failed
	synced := f.waitSynced(pctx, n-failed, c.phaseTimeout)
	rd.Connect.Synced = synced
	if last := f.lastSynced(); last > 0 {
		rd.Connect.SyncedSeconds = time.Unix(0, last).Sub(t).Seconds()
	}
	rd.Connect.PeakRSS = peak.done()
	rd.Connect.CPU = b.cpu(srv).sub(cpu0)
	rd.Connect.Retries = int(f.retries.Swap(0))
	rd.Connect.BytesDownPerEdge = float64(f.down.Load()-down0) / float64(n)
	cancel()
	logf("round %d: hello from %d edges in %.1f s, %d initial syncs done at %.1f s, %d failures", n, n-failed, rd.Connect.HelloSeconds, synced, rd.Connect.SyncedSeconds, failed)
	if peak.tripped.Load() {
		rd.Notes = append(rd.Notes, fmt.Sprintf("connect phase aborted: server RSS passed %d MB", c.maxServerRSS>>20))
	}
	if synced < n {
		rd.Notes = append(rd.Notes, fmt.Sprintf("only %d of %d edges finished their initial sync within %v", synced, n, c.phaseTimeout))
	}
	if ctx.Err() != nil {
		return rd, ctx.Err()
	}
	sleep(ctx, 3*time.Second)
	// The forced GC of this snapshot hands the whole free heap back to the OS; it runs after
	// the Service update, or the update's first allocations would pay the page faults (in one
	// profile 20× the CPU of encoding its frames) that a running cloudcore does not.
	rd.Server.After = b.snapshotNoGC(ctx, srv)

	// One Service update to every edge (only mesh objects carry Services).
	if rd.Mesh && synced == n {
		if err := b.serviceUpdate(ctx, f, rd, srv); err != nil {
			return rd, err
		}
	}
	b.snapshotGC(ctx, srv, &rd.Server.After)
	if conn := n - failed; conn > 0 {
		rd.Server.RSSPerEdgeKB = float64(rd.Server.After.RSS-rd.Server.Before.RSS) / float64(conn) / 1024
		rd.Server.GCRSSPerEdgeKB = float64(rd.Server.After.RSSAfterGC-rd.Server.Before.RSSAfterGC) / float64(conn) / 1024
		rd.Server.HeapPerEdgeKB = (rd.Server.After.HeapInuse - rd.Server.Before.HeapInuse) / float64(conn) / 1024
		rd.Server.GoroutinesPerEdge = (rd.Server.After.Goroutines - rd.Server.Before.Goroutines) / float64(conn)
	}

	// Idle traffic.
	sleep(ctx, 2*time.Second)
	up0, dn0 := f.up.Load(), f.down.Load()
	t = time.Now()
	cpu0 = b.cpu(srv)
	logf("round %d: idle for %v", n, c.idle)
	sleep(ctx, c.idle)
	mins := time.Since(t).Minutes()
	rd.Idle.Seconds = mins * 60
	rd.Idle.UpBytesPerEdgeMin = float64(f.up.Load()-up0) / float64(n) / mins
	rd.Idle.DownBytesPerEdgeMin = float64(f.down.Load()-dn0) / float64(n) / mins
	rd.Idle.ServerCPUPercent = b.cpu(srv).sub(cpu0).Server / (mins * 60) * 100
	rd.Server.Idle = b.snapshot(ctx, srv)
	if ctx.Err() != nil {
		return rd, ctx.Err()
	}

	// Node heartbeats, as real edges send them (this generator's edges send no status).
	if rd.Mesh && c.heartbeat > 0 && synced == n {
		b.heartbeatFanout(ctx, f, rd, srv)
	}

	// Reconnect storm.
	if err := b.storm(ctx, f, rd, srv); err != nil {
		return rd, err
	}
	rd.Errors = f.errors()
	return rd, ctx.Err()
}

// serviceUpdate creates a Service and its EndpointSlice and times their arrival at every edge.
func (b *bench) serviceUpdate(ctx context.Context, f *fleet, rd *round, srv *cloudServer) error {
	name := fmt.Sprintf("bench-svc-%d", rd.Nodes)
	f.watch.Store(&watched{name: name})
	logf("round %d: creating Service %s", rd.Nodes, name)
	const batches = "outpost_edgecontroller_batches_sent_total"
	sent0 := srv.scrape(ctx, batches)[batches]
	cpu0 := b.cpu(srv)
	t0, err := createService(ctx, b.client, name)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(b.c.phaseTimeout)
	var svc, both []float64
	for {
		svc, both = svc[:0], both[:0]
		for _, e := range f.edges {
			s, l := e.svcAt.Load(), e.sliceAt.Load()
			if s > 0 {
				svc = append(svc, time.Unix(0, s).Sub(t0).Seconds())
			}
			if s > 0 && l > 0 {
				both = append(both, time.Unix(0, max(s, l)).Sub(t0).Seconds())
			}
		}
		if len(both) == len(f.edges) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleep(ctx, 20*time.Millisecond)
	}
	rd.Service = &delivery{Delivered: len(svc), Complete: len(both),
		CPU: b.cpu(srv).sub(cpu0)}
	rd.Service.FramesPerEdge = (srv.scrape(ctx, batches)[batches] - sent0) / float64(len(f.edges))
	rd.Service.P50, rd.Service.P99, rd.Service.Max = pct(svc, 50), pct(svc, 99), pct(svc, 100)
	rd.Service.BothP99 = pct(both, 99)
	logf("round %d: Service at %d edges, p50 %.3f s p99 %.3f s; with its EndpointSlice at %d, p99 %.3f s",
		rd.Nodes, len(svc), rd.Service.P50, rd.Service.P99, len(both), rd.Service.BothP99)
	// Every later initial sync carries the new objects too (and the Node hosting the endpoint).
	return b.expect(ctx, f, rd)
}

// expect sets what an initial sync holds: the edge's own Node and, with mesh objects, the mesh
// share (every Service and EndpointSlice, the Nodes hosting an endpoint).
func (b *bench) expect(ctx context.Context, f *fleet, rd *round) error {
	expected := int64(1)
	hosts := map[string]bool{}
	if rd.Mesh {
		m, h, err := meshShare(ctx, b.client)
		if err != nil {
			return err
		}
		expected, hosts = int64(1+m), h
	}
	f.expected.Store(expected)
	f.hosting.Store(&hosts)
	rd.InitialSyncObjects = int(expected)
	return nil
}

// heartbeatFanout patches Node status at edgecore's rate (every node every 10 s) for the
// heartbeat window and counts what reaches the edges: each edge's own Node comes back to it
// (its own share); another edge's Node should reach no one, as heartbeats leave a Node's mesh
// form (name, labels, addresses) unchanged.
func (b *bench) heartbeatFanout(ctx context.Context, f *fleet, rd *round, srv *cloudServer) {
	n := rd.Nodes
	rate := float64(n) / 10
	logf("round %d: Node status heartbeats at %.0f/s for %v", n, rate, b.c.heartbeat)
	ch0, fo0, dn0, cpu0 := f.changes.Load(), f.foreign.Load(), f.down.Load(), b.cpu(srv)
	t := time.Now()
	patched := heartbeats(ctx, b.client, n, rate, b.c.heartbeat)
	secs := time.Since(t).Seconds()
	h := &fanout{Seconds: secs, PatchesPerSecond: float64(patched) / secs}
	h.ChangesPerEdgePerSecond = float64(f.changes.Load()-ch0) / float64(n) / secs
	h.ForeignPerEdgePerSecond = float64(f.foreign.Load()-fo0) / float64(n) / secs
	h.DownBytesPerEdgePerSecond = float64(f.down.Load()-dn0) / float64(n) / secs
	h.CPU = b.cpu(srv).sub(cpu0)
	h.ServerCPUPercent = h.CPU.Server / secs * 100
	rd.Heartbeat = h
	logf("round %d: %.0f patches/s → %.2f changes (%.2f of other edges' Nodes) and %.0f bytes per edge per second, cloudcore CPU %.0f %%",
		n, h.PatchesPerSecond, h.ChangesPerEdgePerSecond, h.ForeignPerEdgePerSecond, h.DownBytesPerEdgePerSecond, h.ServerCPUPercent)
	// Let the backlog drain before the storm.
	sleep(ctx, 5*time.Second)
}

// storm drops every session at once and reconnects all edges, conc at a time.
func (b *bench) storm(ctx context.Context, f *fleet, rd *round, srv *cloudServer) error {
	n := rd.Nodes
	logf("round %d: reconnect storm", n)
	peak := samplePeak(srv.proc.Pid, b.c.maxServerRSS, func() {})
	t := time.Now()
	f.dropAll()
	// Wait until the hub has seen the drops, so that old and new sessions do not add up
	// against the open-file limit.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m := srv.scrape(ctx, "outpost_hub_connected_nodes"); m["outpost_hub_connected_nodes"] == 0 {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	rd.Storm.DisconnectSeconds = time.Since(t).Seconds()
	f.synced.Store(0)
	pctx, cancel := context.WithTimeout(ctx, b.c.phaseTimeout)
	defer cancel()
	cpu0 := b.cpu(srv)
	t = time.Now()
	failed := f.connectAll(pctx, b.c.conc)
	rd.Storm.HelloSeconds = time.Since(t).Seconds()
	rd.Storm.Failed = failed
	rd.Storm.Synced = f.waitSynced(pctx, n-failed, b.c.phaseTimeout)
	if last := f.lastSynced(); last > 0 {
		rd.Storm.SyncedSeconds = time.Unix(0, last).Sub(t).Seconds()
	}
	rd.Storm.CPU = b.cpu(srv).sub(cpu0)
	rd.Storm.Retries = int(f.retries.Swap(0))
	sleep(ctx, time.Second)
	rd.Storm.PeakRSS = peak.done()
	logf("round %d: storm: hello from %d in %.1f s, %d synced at %.1f s, peak RSS %d MB", n, n-failed, rd.Storm.HelloSeconds, rd.Storm.Synced, rd.Storm.SyncedSeconds, rd.Storm.PeakRSS>>20)
	if rd.Storm.Synced < n {
		rd.Notes = append(rd.Notes, fmt.Sprintf("storm: only %d of %d edges re-synced within %v", rd.Storm.Synced, n, b.c.phaseTimeout))
	}
	return nil
}

// snapshot reads the server's RSS, then (after a forced GC) its RSS again and Go runtime numbers, and the apiserver's and etcd's RSS.
func (b *bench) snapshot(ctx context.Context, srv *cloudServer) serverSnap {
	s := b.snapshotNoGC(ctx, srv)
	b.snapshotGC(ctx, srv, &s)
	return s
}

// snapshotNoGC is the part of snapshot before the forced GC: the server's RSS, heap in use,
// goroutines and sessions, the apiserver's and etcd's RSS.
func (b *bench) snapshotNoGC(ctx context.Context, srv *cloudServer) serverSnap {
	m := srv.scrape(ctx, "go_memstats_heap_inuse_bytes", "go_goroutines", "outpost_hub_connected_nodes")
	return serverSnap{RSS: srv.rss(), HeapInuse: m["go_memstats_heap_inuse_bytes"], Goroutines: m["go_goroutines"],
		Connected: int(m["outpost_hub_connected_nodes"]), APIServerRSS: lab.RSS(b.apiserverPid), EtcdRSS: lab.RSS(b.etcdPid)}
}

// snapshotGC forces a GC that returns free memory to the OS and notes the server's RSS then.
func (b *bench) snapshotGC(ctx context.Context, srv *cloudServer, s *serverSnap) {
	srv.freeOSMemory(ctx)
	s.RSSAfterGC = srv.rss()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// pct is the p-th percentile (nearest rank) of xs in seconds; 0 for none.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// keepLog copies a process log into dir.
func keepLog(path, dir string) {
	b, err := os.ReadFile(path)
	if err == nil && os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
	}
}

// cpuUse is CPU seconds of the processes involved.
type cpuUse struct {
	Server    float64 `json:"server"`
	Generator float64 `json:"generator"`
	APIServer float64 `json:"apiserverEtcd"`
}

func (b *bench) cpu(srv *cloudServer) cpuUse {
	return cpuUse{Server: lab.CPUSeconds(srv.proc.Pid), Generator: lab.CPUSeconds(os.Getpid()),
		APIServer: lab.CPUSeconds(b.apiserverPid) + lab.CPUSeconds(b.etcdPid)}
}

func (c cpuUse) sub(d cpuUse) cpuUse {
	return cpuUse{Server: c.Server - d.Server, Generator: c.Generator - d.Generator, APIServer: c.APIServer - d.APIServer}
}

func (c cpuUse) String() string {
	return fmt.Sprintf("%.1f / %.1f / %.1f s", c.Server, c.Generator, c.APIServer)
}
