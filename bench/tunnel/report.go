package main

import (
	"fmt"
	"io"
)

// Path keys (JSON and ratios).
const (
	keyQUIC   = "quic-plain"
	keyDirect = "outpost-direct"
	keyTCP    = "tcp-plain"
	keyTURN   = "quic-turn"
	keyRelay  = "outpost-relay"
	keyFresh  = "fresh" // first byte to new peers, direct upgrade
)

type pathResult struct {
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	SetupMs float64  `json:"setupMs"`
	Rounds  int      `json:"rounds"` // rounds that succeeded
	One     transfer `json:"oneStream"`
	Many    transfer `json:"parallelStreams"`
	Open    latency  `json:"streamOpen"`
	RTT     latency  `json:"rtt64B"`
	Err     string   `json:"error,omitempty"`
}

// merge keeps the best value of each metric of this path over the rounds.
func (p *pathResult) merge(q pathResult, err error) {
	if err != nil {
		if p.Rounds == 0 {
			p.Err = err.Error()
		}
		return
	}
	if p.Rounds == 0 {
		q.Key, q.Label, q.Rounds = p.Key, p.Label, 1
		*p = q
		return
	}
	p.Rounds++
	p.Err = ""
	if q.One.Gbps > p.One.Gbps {
		p.One = q.One
	}
	if q.Many.Gbps > p.Many.Gbps {
		p.Many = q.Many
	}
	if q.Open.P50 < p.Open.P50 {
		p.Open = q.Open
	}
	if q.RTT.P50 < p.RTT.P50 {
		p.RTT = q.RTT
	}
	p.SetupMs = min(p.SetupMs, q.SetupMs)
}

// ratio is one comparison against a baseline with its target.
type ratio struct {
	What   string  `json:"what"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	Met    bool    `json:"met"`
}

type results struct {
	Date          string       `json:"date"`
	Machine       string       `json:"machine"`
	Config        config       `json:"config"`
	Paths         []pathResult `json:"paths"`
	FirstByteEasy latency      `json:"firstByteNewPeerEasyEasy"`
	FirstByteHard latency      `json:"firstByteNewPeerHardHard"`
	Upgrade       latency      `json:"directUpgrade"`
	NotUpgraded   int          `json:"notUpgraded"`
	RSSStart      int64        `json:"rssStartBytes"`
	RSSEnd        int64        `json:"rssEndBytes"`
	// GoroutinesStart and GoroutinesEnd are counted with the relay up and no path open.
	GoroutinesStart int      `json:"goroutinesStart"`
	GoroutinesEnd   int      `json:"goroutinesEnd"`
	Ratios          []ratio  `json:"ratios"`
	Errors          []string `json:"errors,omitempty"`
	Seconds         float64  `json:"seconds"`
}

func (r *results) path(key string) *pathResult {
	for i := range r.Paths {
		if r.Paths[i].Key == key && r.Paths[i].Err == "" {
			return &r.Paths[i]
		}
	}
	return nil
}

// ratios compares Outpost with its baselines and the targets of the issue.
func (r *results) ratios() {
	cmp := func(ours, base string, want float64) {
		o, b := r.path(ours), r.path(base)
		if o == nil || b == nil {
			return
		}
		add := func(what string, ov, bv float64, lowerBetter bool) {
			if bv == 0 {
				return
			}
			v := ov / bv
			rt := ratio{What: fmt.Sprintf("%s / %s, %s", ours, base, what), Value: v}
			if want > 0 && !lowerBetter {
				rt.Target, rt.Met = fmt.Sprintf("≥ %.1f×", want), v >= want
			}
			r.Ratios = append(r.Ratios, rt)
		}
		add("1 stream", o.One.Gbps, b.One.Gbps, false)
		add(fmt.Sprintf("%d streams", o.Many.Streams), o.Many.Gbps, b.Many.Gbps, false)
		add("stream open p50 (lower is better)", o.Open.P50, b.Open.P50, true)
		add("RTT p50 (lower is better)", o.RTT.P50, b.RTT.P50, true)
		add("CPU s/GB, 1 stream (lower is better)", o.One.CPUPerG, b.One.CPUPerG, true)
	}
	cmp(keyDirect, keyQUIC, 0.8)
	cmp(keyRelay, keyTURN, 0.8)
	abs := func(what string, l latency, limitMs float64, unit string) {
		if l.N == 0 {
			return
		}
		r.Ratios = append(r.Ratios, ratio{What: what + " (max ms)", Value: l.Max,
			Target: fmt.Sprintf("< %g %s", limitMs, unit), Met: l.Max < limitMs})
	}
	abs("first byte to a new peer, easy/easy", r.FirstByteEasy, 100, "ms")
	abs("first byte to a new peer, hard/hard", r.FirstByteHard, 100, "ms")
	abs("direct upgrade, easy/easy", r.Upgrade, 1000, "ms")
}

func (r *results) print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nTunnel benchmark %s — %s; %d MiB per run, cap %v, %d opens, %d round trips, best of %d round(s); %d fresh pairs; %.0f s\n\n",
		r.Date, r.Machine, c.Bytes>>20, c.Cap, c.Opens, c.RoundTrip, c.Rounds, c.Fresh, r.Seconds)
	fmt.Fprintf(w, "| path | 1 stream Gbit/s | %d streams Gbit/s | CPU s/GB (1 / %d) | stream open p50 / p99 ms | RTT 64 B p50 / p99 ms |\n", c.Parallel, c.Parallel)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, p := range r.Paths {
		if p.Err != "" {
			fmt.Fprintf(w, "| %s | error: %s | | | | |\n", p.Label, p.Err)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f / %.1f | %.2f / %.2f | %.3f / %.3f |\n", p.Label,
			gbps(p.One), gbps(p.Many), p.One.CPUPerG, p.Many.CPUPerG, p.Open.P50, p.Open.P99, p.RTT.P50, p.RTT.P99)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| new peer (fresh agents, relays registered) | n | p50 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	row := func(what string, l latency) {
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f |\n", what, l.N, l.P50, l.P99, l.Max)
	}
	row("first byte (Dial + 1-byte echo), easy/easy a2 → c2", r.FirstByteEasy)
	row("first byte (Dial + 1-byte echo), hard/hard b2 → d2", r.FirstByteHard)
	row("direct path takes over (first Dial → Status direct), easy/easy", r.Upgrade)
	if r.NotUpgraded > 0 {
		fmt.Fprintf(w, "\n%d easy/easy pair(s) never went direct within 10 s.\n", r.NotUpgraded)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| comparison | value | target |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, rt := range r.Ratios {
		verdict := ""
		if rt.Target != "" {
			verdict = rt.Target + map[bool]string{true: " met", false: " **missed**"}[rt.Met]
		}
		fmt.Fprintf(w, "| %s | %.2f | %s |\n", rt.What, rt.Value, verdict)
	}
	fmt.Fprintf(w, "\nRSS of the benchmark process (relay, all agents, all baselines): %.0f MiB at start, %.0f MiB after the runs.\n",
		float64(r.RSSStart)/(1<<20), float64(r.RSSEnd)/(1<<20))
	fmt.Fprintf(w, "Goroutines with only the relay up: %d at start, %d after every path and agent was closed.\n",
		r.GoroutinesStart, r.GoroutinesEnd)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

func gbps(t transfer) string {
	s := fmt.Sprintf("%.2f", t.Gbps)
	if t.Capped {
		s += fmt.Sprintf(" (capped: %d MiB in %.1f s)", t.Bytes>>20, t.Seconds)
	}
	return s
}
