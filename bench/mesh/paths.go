package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
)

// Path keys (JSON and ratios).
const (
	keyDirectLAN = "direct-lan"     // a1 → a2:5201
	keyHopLAN    = "hop-lan"        // a1 → 127.0.0.1:7001 → minimal splice proxy → a2
	keyMeshLAN   = "mesh-lan"       // a1 → ClusterIP → a1's fast-path DNAT (kernel) → a2
	keyMeshProxy = "mesh-lan-proxy" // a1 → ClusterIP → agent a1's proxy → a2 (fast path off)
	keyQUIC      = "quic-plain"     // quic-go a1 → public host, plain UDP sockets
	keyMeshDir   = "mesh-direct"    // a1 → ClusterIP → agent a1 ⇒ QUIC direct ⇒ agent c1 → c1
	keyMeshRelay = "mesh-relay"     // a1 → ClusterIP → agent a1 ⇒ QUIC via relay ⇒ agent b1 → b1
)

// pathUnderTest is one way from a1 to a sink server.
type pathUnderTest struct {
	res  pathResult
	open opener
	// cpsHost and cpsAddr are where connections-per-second runs dial from and to (TCP paths).
	cpsHost *lab.Host
	cpsAddr string
	cpsDur  time.Duration
	cross   bool
	// watch are the processes whose CPU per GB is reported for throughput runs.
	watch []*lab.Process
	// agents are the nodes whose agents' Go allocation and GC counts per GB are reported.
	agents []string
}

// paths sets up every path, warms the mesh paths up and records which tunnel path a1's
// agent uses for each remote site.
func (w *world) paths(ctx context.Context, c config, say func(string, ...any), res *results) ([]*pathUnderTest, func(), error) {
	a1 := w.m.Net.Host("a1")
	ag := w.m.Agents
	for _, h := range endpointHosts {
		t0 := time.Now()
		if err := w.warmUp(ctx, w.serviceAddr(h)); err != nil {
			return nil, nil, err
		}
		say("first call through the mesh to %s answered in %v", h, time.Since(t0).Round(time.Millisecond))
	}
	if err := w.warmUp(ctx, hopAddr); err != nil {
		return nil, nil, err
	}
	// Site c is easy NAT like site a: the tunnel should move to a direct path shortly after
	// the first stream; site b is hard NAT: relay.
	wait := 15 * time.Second
	if c.Quick {
		wait = 5 * time.Second
	}
	viaC := w.waitPath(ctx, "c1", tunnel.PathDirect, wait)
	viaB := w.waitPath(ctx, "b1", tunnel.PathRelay, 2*time.Second)
	say("a1's agent reaches c1 by %s, b1 by %s", viaC, viaB)
	quicOpen, quicClose, err := w.quicCeiling(ctx)
	if err != nil {
		return nil, nil, err
	}
	ps := []*pathUnderTest{
		{res: pathResult{Key: keyDirectLAN, Label: "direct TCP a1 → a2 (same LAN)"},
			open: tcpOpener(a1, w.directAddr("a2")), cpsHost: a1, cpsAddr: w.directAddr("a2"), cpsDur: c.CPS},
		{res: pathResult{Key: keyHopLAN, Label: "minimal splice proxy a1 → 127.0.0.1 → a2 (hop floor)"},
			open: tcpOpener(a1, hopAddr), cpsHost: a1, cpsAddr: hopAddr, cpsDur: c.CPS,
			watch: []*lab.Process{w.hop}},
		{res: pathResult{Key: keyMeshLAN, Label: "mesh a1 → ClusterIP → a2 (same site, kernel fast path)"},
			open: tcpOpener(a1, w.serviceAddr("a2")), cpsHost: a1, cpsAddr: w.serviceAddr("a2"), cpsDur: c.CPS,
			watch: []*lab.Process{ag["a1"]}, agents: []string{"a1"}},
		{res: pathResult{Key: keyMeshProxy, Label: "mesh a1 → ClusterIP → agent proxy → a2 (same site, fast path off)"},
			open: tcpOpener(a1, w.proxiedAddr()), cpsHost: a1, cpsAddr: w.proxiedAddr(), cpsDur: c.CPS,
			watch: []*lab.Process{ag["a1"]}, agents: []string{"a1"}},
		{res: pathResult{Key: keyQUIC, Label: "quic-go plain UDP a1 → public host (ceiling)"},
			open: quicOpen, cross: true},
		{res: pathResult{Key: keyMeshDir, Label: "mesh a1 → ClusterIP → c1 (easy NAT)", Via: string(viaC)},
			open: tcpOpener(a1, w.serviceAddr("c1")), cpsHost: a1, cpsAddr: w.serviceAddr("c1"), cpsDur: c.CPSCross, cross: true,
			watch: []*lab.Process{ag["a1"], ag["c1"]}, agents: []string{"a1", "c1"}},
		{res: pathResult{Key: keyMeshRelay, Label: "mesh a1 → ClusterIP → b1 (hard NAT)", Via: string(viaB)},
			open: tcpOpener(a1, w.serviceAddr("b1")), cpsHost: a1, cpsAddr: w.serviceAddr("b1"), cpsDur: c.CPSCross, cross: true,
			watch: []*lab.Process{ag["a1"], ag["b1"], w.m.Relay}, agents: []string{"a1", "b1"}},
	}
	return ps, quicClose, nil
}

// pingRounds is how many interleaved blocks the ping-pong round trips are split into.
const pingRounds = 10

// measureAll runs each measurement on every path in turn (not every measurement on one path
// and then the next), so a burst of load from the machine's other users spreads over the
// paths instead of hitting one of them.
func measureAll(ctx context.Context, w *world, c config, ps []*pathUnderTest, say func(string, ...any)) error {
	step := func(what string, f func(p *pathUnderTest) error) error {
		say("%s", what)
		for _, p := range ps {
			if p.res.Err != "" {
				continue
			}
			if err := f(p); err != nil {
				p.res.Err = fmt.Sprintf("%s: %v", what, err)
				say("  %s: %v", p.res.Key, err)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
		}
		return nil
	}
	tput := func(n int, into func(*pathResult) *transfer) func(p *pathUnderTest) error {
		return func(p *pathUnderTest) error {
			// Scrape before reading CPU, so the scrape's own CPU is outside the window.
			gs0, gsOK := map[string]goStats{}, map[string]bool{}
			for _, node := range p.agents {
				gs0[node], gsOK[node] = scrapeGoStats(w.m.Net.Host(node))
			}
			beforeU, beforeS := make([]float64, len(p.watch)), make([]float64, len(p.watch))
			for i, pr := range p.watch {
				beforeU[i], beforeS[i] = lab.CPUSplit(pr.Pid)
			}
			t, err := throughput(ctx, p.open, n, c.Bytes, c.Cap)
			if err != nil {
				return err
			}
			if len(p.watch) > 0 && t.Bytes > 0 {
				t.AgentCPU, t.AgentCPUSec, t.AgentSysShare = map[string]float64{}, map[string]float64{}, map[string]float64{}
				for i, pr := range p.watch {
					u, s := lab.CPUSplit(pr.Pid)
					used := u - beforeU[i] + s - beforeS[i]
					t.AgentCPUSec[pr.Name] = used
					t.AgentCPU[pr.Name] = used / (float64(t.Bytes) / 1e9)
					if used > 0 {
						t.AgentSysShare[pr.Name] = (s - beforeS[i]) / used
					}
				}
				for _, node := range p.agents {
					gs1, ok := scrapeGoStats(w.m.Net.Host(node))
					if !ok || !gsOK[node] {
						continue
					}
					if t.AgentGo == nil {
						t.AgentGo = map[string]goPerGB{}
					}
					gb := float64(t.Bytes) / 1e9
					t.AgentGo[node] = goPerGB{AllocMB: (gs1.AllocBytes - gs0[node].AllocBytes) / 1e6 / gb, GCs: (gs1.GCs - gs0[node].GCs) / gb}
				}
			}
			*into(&p.res) = t
			say("  %-12s %6.2f Gbit/s (machine %2.0f%% busy)", p.res.Key, t.Gbps, 100*t.MachineBusy)
			return nil
		}
	}
	if err := step("throughput, 1 connection", tput(1, func(r *pathResult) *transfer { return &r.One })); err != nil {
		return err
	}
	if err := step(fmt.Sprintf("throughput, %d connections", c.Parallel), tput(c.Parallel, func(r *pathResult) *transfer { return &r.Many })); err != nil {
		return err
	}
	say("ping-pong, %d × 64 B on one connection per path, in %d interleaved rounds", c.RTTs, pingRounds)
	conns := make([]*echoConn, len(ps))
	for i, p := range ps {
		if p.res.Err != "" {
			continue
		}
		e, err := openEcho(ctx, p.open, c.RTTs)
		if err != nil {
			p.res.Err = fmt.Sprintf("ping-pong: %v", err)
			continue
		}
		conns[i] = e
	}
	all := slices.Clone(conns)
	err := pingPongRounds(ctx, conns, c.RTTs, pingRounds, func(i int, err error) {
		ps[i].res.Err = fmt.Sprintf("ping-pong: %v", err)
		say("  %s: %v", ps[i].res.Key, err)
	})
	for i, e := range all {
		if e == nil {
			continue
		}
		e.close()
		if ps[i].res.Err == "" {
			ps[i].res.RTT = summarize(e.samples)
		}
	}
	if err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	for _, clients := range []int{1, c.Clients} {
		what := fmt.Sprintf("connections per second, %d client(s)", clients)
		if err := step(what, func(p *pathUnderTest) error {
			if p.cpsHost == nil {
				return nil
			}
			r, err := connsPerSecond(ctx, p.cpsHost, p.cpsAddr, clients, p.cpsDur)
			if clients == 1 {
				p.res.CPS1 = &r
			} else {
				p.res.CPSN = &r
			}
			say("  %-12s %8.0f conn/s", p.res.Key, r.PerSec)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
