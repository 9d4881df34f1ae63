package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

type pathResult struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	// Via is the tunnel path a1's agent used for a remote site (direct, relay) at the start.
	Via  string    `json:"via,omitempty"`
	One  transfer  `json:"oneConn"`
	Many transfer  `json:"parallelConns"`
	RTT  latency   `json:"rtt64B"`
	CPS1 *connRate `json:"connsPerSecond1,omitempty"`
	CPSN *connRate `json:"connsPerSecondN,omitempty"`
	Err  string    `json:"error,omitempty"`
}

// ratio is one comparison against a baseline, with the target if it has one.
type ratio struct {
	What   string  `json:"what"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	Target string  `json:"target,omitempty"`
	Met    bool    `json:"met"`
}

type agentMem struct {
	Node    string `json:"node"`
	RSS     int64  `json:"rssBytes"`
	PeakRSS int64  `json:"peakRssBytes"`
}

type results struct {
	Date    string       `json:"date"`
	Machine string       `json:"machine"`
	Config  config       `json:"config"`
	Paths   []pathResult `json:"paths"`
	Ratios  []ratio      `json:"ratios"`
	AgentA1 struct {
		RSSStart int64 `json:"rssStartBytes"` // agent ready, no traffic yet
		RSSWarm  int64 `json:"rssWarmBytes"`  // after the warm-up calls (tunnels open)
		RSSEnd   int64 `json:"rssEndBytes"`
		PeakRSS  int64 `json:"peakRssBytes"`
		// CPUSeconds over all measurements (throughput, ping-pong, connection runs).
		CPUSeconds float64 `json:"cpuSeconds"`
		// ProxiedBytes counts what the throughput runs through the mesh moved.
		ProxiedBytes int64 `json:"proxiedBytes"`
		// CPUPerGBSameSite and CPUPerGBCrossSite count only the throughput runs.
		CPUPerGBSameSite  float64 `json:"cpuSecondsPerGBSameSite"`
		CPUPerGBCrossSite float64 `json:"cpuSecondsPerGBCrossSite"`
	} `json:"agentA1"`
	OtherAgents  []agentMem `json:"otherAgents"`
	PeerPathsEnd []string   `json:"peerPathsEnd"`
	Seconds      float64    `json:"seconds"`
}

func (r *results) path(key string) *pathResult {
	for i := range r.Paths {
		if r.Paths[i].Key == key && r.Paths[i].Err == "" {
			return &r.Paths[i]
		}
	}
	return nil
}

// finish computes the ratios and the a1 agent's totals.
func (r *results) finish() {
	var cpuSame, cpuCross, bSame, bCross float64
	for _, p := range r.Paths {
		if !strings.HasPrefix(p.Key, "mesh-") {
			continue
		}
		r.AgentA1.ProxiedBytes += p.One.Bytes + p.Many.Bytes
		cpu := p.One.AgentCPUSec["agent-a1"] + p.Many.AgentCPUSec["agent-a1"]
		b := float64(p.One.Bytes+p.Many.Bytes) / 1e9
		if p.Key == keyMeshLAN || p.Key == keyMeshProxy {
			cpuSame, bSame = cpuSame+cpu, bSame+b
		} else {
			cpuCross, bCross = cpuCross+cpu, bCross+b
		}
	}
	if bSame > 0 {
		r.AgentA1.CPUPerGBSameSite = cpuSame / bSame
	}
	if bCross > 0 {
		r.AgentA1.CPUPerGBCrossSite = cpuCross / bCross
	}
	add := func(what string, v float64, unit, target string, met bool) {
		r.Ratios = append(r.Ratios, ratio{What: what, Value: v, Unit: unit, Target: target, Met: met})
	}
	if m, d := r.path(keyMeshLAN), r.path(keyDirectLAN); m != nil && d != nil {
		if d.One.Gbps > 0 {
			v := m.One.Gbps / d.One.Gbps
			add("same site, throughput 1 conn, mesh / direct", v, "×", "≥ 0.9", v >= 0.9)
		}
		if d.Many.Gbps > 0 {
			v := m.Many.Gbps / d.Many.Gbps
			add(fmt.Sprintf("same site, throughput %d conns, mesh / direct", m.Many.Conns), v, "×", "≥ 0.9", v >= 0.9)
		}
		if d.RTT.N > 0 && m.RTT.N > 0 {
			added := m.RTT.P50 - d.RTT.P50
			add("same site, added latency p50 (mesh − direct)", added, "µs", "≤ 50", added <= 50)
			add("same site, added latency p99 (mesh − direct)", m.RTT.P99-d.RTT.P99, "µs", "", false)
			add("same site, RTT p50, mesh / direct", m.RTT.P50/d.RTT.P50, "×", "", false)
		}
		if m.CPS1 != nil && d.CPS1 != nil && d.CPS1.PerSec > 0 {
			add("same site, conn/s 1 client, mesh / direct", m.CPS1.PerSec/d.CPS1.PerSec, "×", "", false)
		}
		if m.CPSN != nil && d.CPSN != nil && d.CPSN.PerSec > 0 {
			add(fmt.Sprintf("same site, conn/s %d clients, mesh / direct", m.CPSN.Clients), m.CPSN.PerSec/d.CPSN.PerSec, "×", "", false)
		}
	}
	if m, d := r.path(keyMeshProxy), r.path(keyDirectLAN); m != nil && d != nil && d.One.Gbps > 0 && d.RTT.N > 0 && m.RTT.N > 0 {
		add("same site, fast path off: throughput 1 conn, proxy / direct", m.One.Gbps/d.One.Gbps, "×", "", false)
		add("same site, fast path off: added latency p50 (proxy − direct)", m.RTT.P50-d.RTT.P50, "µs", "", false)
	}
	if m, h := r.path(keyMeshProxy), r.path(keyHopLAN); m != nil && h != nil {
		if h.One.Gbps > 0 && h.Many.Gbps > 0 {
			add("same site, throughput 1 conn, mesh / minimal hop", m.One.Gbps/h.One.Gbps, "×", "", false)
			add(fmt.Sprintf("same site, throughput %d conns, mesh / minimal hop", m.Many.Conns), m.Many.Gbps/h.Many.Gbps, "×", "", false)
		}
		if h.RTT.N > 0 && m.RTT.N > 0 {
			add("same site, latency p50 the agent adds over a minimal hop (mesh − hop)", m.RTT.P50-h.RTT.P50, "µs", "", false)
		}
		if m.CPS1 != nil && h.CPS1 != nil && h.CPS1.PerSec > 0 {
			add("same site, conn/s 1 client, mesh / minimal hop", m.CPS1.PerSec/h.CPS1.PerSec, "×", "", false)
		}
		if m.CPSN != nil && h.CPSN != nil && h.CPSN.PerSec > 0 {
			add(fmt.Sprintf("same site, conn/s %d clients, mesh / minimal hop", m.CPSN.Clients), m.CPSN.PerSec/h.CPSN.PerSec, "×", "", false)
		}
	}
	q := r.path(keyQUIC)
	for _, key := range []string{keyMeshDir, keyMeshRelay} {
		m := r.path(key)
		if m == nil || q == nil {
			continue
		}
		name := fmt.Sprintf("cross site (%s, via %s)", strings.TrimPrefix(m.Label, "mesh a1 → ClusterIP → "), m.Via)
		if q.One.Gbps > 0 {
			add(name+", throughput 1 conn, mesh / quic-go ceiling", m.One.Gbps/q.One.Gbps, "×", "", false)
		}
		if q.Many.Gbps > 0 {
			add(fmt.Sprintf("%s, throughput %d conns, mesh / quic-go ceiling", name, m.Many.Conns), m.Many.Gbps/q.Many.Gbps, "×", "", false)
		}
		if q.RTT.N > 0 && m.RTT.N > 0 {
			add(name+", RTT p50, mesh / quic-go ceiling", m.RTT.P50/q.RTT.P50, "×", "", false)
			add(name+", added latency p50 (mesh − ceiling)", m.RTT.P50-q.RTT.P50, "µs", "", false)
		}
	}
}

func (r *results) print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nMesh proxy benchmark %s — %s; %d MiB per throughput run (cap %v), %d round trips, conn/s runs %v same site / %v cross site; %.0f s\n\n",
		r.Date, r.Machine, c.Bytes>>20, c.Cap, c.RTTs, c.CPS, c.CPSCross, r.Seconds)
	fmt.Fprintf(w, "| path | 1 conn Gbit/s | %d conns Gbit/s | RTT 64 B p50 / p99 µs | conn/s 1 client (p50 µs) | conn/s %d clients (p50 µs) | agent CPU s/GB, 1 / %d conns | bench CPU s/GB, 1 / %d | machine busy, 1 / %d |\n",
		c.Parallel, c.Clients, c.Parallel, c.Parallel, c.Parallel)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, p := range r.Paths {
		label := p.Label
		if p.Via != "" {
			label += ", tunnel " + p.Via
		}
		if p.Err != "" {
			fmt.Fprintf(w, "| %s | error: %s | | | | | | | |\n", label, p.Err)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f / %.0f | %s | %s | %s | %.2f / %.2f | %.0f%% / %.0f%% |\n", label, gbps(p.One), gbps(p.Many),
			p.RTT.P50, p.RTT.P99, cps(p.CPS1), cps(p.CPSN), cpuPerGB(p.One, p.Many),
			p.One.BenchCPU, p.Many.BenchCPU, 100*p.One.MachineBusy, 100*p.Many.MachineBusy)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| comparison | value | target |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, rt := range r.Ratios {
		verdict := ""
		if rt.Target != "" {
			verdict = rt.Target + " " + strings.TrimPrefix(rt.Unit, "×") + map[bool]string{true: " met", false: " **missed**"}[rt.Met]
		}
		fmt.Fprintf(w, "| %s | %.2f %s | %s |\n", rt.What, rt.Value, rt.Unit, verdict)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| process on the path | 1 conn: CPU s/GB (kernel share) / MB allocated / GCs per GB | %d conns: same |\n", c.Parallel)
	fmt.Fprintln(w, "|---|---|---|")
	for _, p := range r.Paths {
		if p.Err != "" {
			continue
		}
		fmt.Fprintf(w, "| %s, bench (client + sink) | %.2f (%.0f%%) | %.2f (%.0f%%) |\n", p.Key,
			p.One.BenchCPU, 100*p.One.BenchSysShare, p.Many.BenchCPU, 100*p.Many.BenchSysShare)
		names := make([]string, 0, len(p.One.AgentCPU))
		for n := range p.One.AgentCPU {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			node := strings.TrimPrefix(n, "agent-")
			cell := func(t transfer) string {
				s := fmt.Sprintf("%.2f (%.0f%%)", t.AgentCPU[n], 100*t.AgentSysShare[n])
				if g, ok := t.AgentGo[node]; ok && strings.HasPrefix(n, "agent-") {
					s += fmt.Sprintf(" / %.0f MB / %.0f GCs", g.AllocMB, g.GCs)
				}
				return s
			}
			fmt.Fprintf(w, "| %s, %s | %s | %s |\n", p.Key, n, cell(p.One), cell(p.Many))
		}
	}
	a := r.AgentA1
	fmt.Fprintf(w, "\nagent a1: RSS %.1f MiB ready, %.1f MiB after warm-up, %.1f MiB after the runs (peak %.1f MiB)\n",
		mib(a.RSSStart), mib(a.RSSWarm), mib(a.RSSEnd), mib(a.PeakRSS))
	fmt.Fprintf(w, "agent a1 CPU per GB proxied (throughput runs only): %.2f s same site, %.2f s cross site", a.CPUPerGBSameSite, a.CPUPerGBCrossSite)
	if a.ProxiedBytes > 0 {
		fmt.Fprintf(w, "; over all measurements %.1f s for %.2f GB = %.2f s/GB (includes ping-pong and conn/s)", a.CPUSeconds, float64(a.ProxiedBytes)/1e9, a.CPUSeconds/(float64(a.ProxiedBytes)/1e9))
	}
	fmt.Fprintln(w)
	for _, o := range r.OtherAgents {
		fmt.Fprintf(w, "agent %s: RSS %.1f MiB after the runs (peak %.1f MiB)\n", o.Node, mib(o.RSS), mib(o.PeakRSS))
	}
	if len(r.PeerPathsEnd) > 0 {
		fmt.Fprintf(w, "a1's tunnel paths after the runs: %s\n", strings.Join(r.PeerPathsEnd, "; "))
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func gbps(t transfer) string {
	s := fmt.Sprintf("%.2f", t.Gbps)
	if t.Capped {
		s += " (cap)"
	}
	return s
}

func cps(r *connRate) string {
	if r == nil {
		return "–"
	}
	s := fmt.Sprintf("%.0f (%.0f)", r.PerSec, r.Latency.P50)
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d errors", r.Errors)
	}
	return s
}

// cpuPerGB lists each watched process's CPU seconds per GB for the 1- and n-connection runs.
func cpuPerGB(one, many transfer) string {
	if len(one.AgentCPU) == 0 {
		return "–"
	}
	names := make([]string, 0, len(one.AgentCPU))
	for n := range one.AgentCPU {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f / %.2f", strings.TrimPrefix(n, "agent-"), one.AgentCPU[n], many.AgentCPU[n]))
	}
	return strings.Join(parts, ", ")
}
