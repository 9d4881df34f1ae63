package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// results is the whole run (the -json output).
type results struct {
	Date        string         `json:"date"`
	Machine     string         `json:"machine"`
	Pods        int            `json:"pods"`
	WallSeconds float64        `json:"wallSeconds"`
	Runtimes    []*measurement `json:"runtimes"`
	// KubeEdgeP99Seconds is KubeEdge's published pod start p99, for comparison only (another
	// machine, another setup).
	KubeEdgeP99Seconds float64 `json:"kubeEdgePublishedP99Seconds"`
}

// measurement is one runtime's rounds and memory.
type measurement struct {
	Runtime string `json:"runtime"`
	Version string `json:"version,omitempty"`
	// AgentReadySeconds: from starting the agent to its Node Ready.
	AgentReadySeconds float64 `json:"agentReadySeconds"`
	// RSSIdle: the agent's VmRSS with no pod, after -settle; RSSLoaded with the burst round's
	// pods running, after -settle.
	RSSIdle   int64 `json:"rssIdleBytes"`
	RSSLoaded int64 `json:"rssLoadedBytes"`
	// TeardownSeconds: deleting the burst round's pods until the apiserver and the runtime
	// hold none.
	TeardownSeconds float64      `json:"teardownSeconds"`
	Burst           *roundResult `json:"burst,omitempty"`
	Sequential      *roundResult `json:"sequential,omitempty"`
}

func (r *results) byRuntime(name string) *measurement {
	for _, m := range r.Runtimes {
		if m.Runtime == name {
			return m
		}
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "bench/edged %s — %s — %d pods on one node, wall %.0f s\n\n", r.Date, r.Machine, r.Pods, r.WallSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "runtime\tround\tready\tp50 s\tp99 s\tmax s\tround wall s\tload avg\t")
	rounds := func(m *measurement) []*roundResult {
		var out []*roundResult
		for _, rr := range []*roundResult{m.Burst, m.Sequential} {
			if rr != nil {
				out = append(out, rr)
			}
		}
		return out
	}
	for _, m := range r.Runtimes {
		for _, rr := range rounds(m) {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t\n", m.Runtime, rr.Mode, rr.Ready, rr.Pods, rr.P50Seconds, rr.P99Seconds, rr.MaxSeconds, rr.WallSeconds, rr.LoadAvg)
		}
	}
	fmt.Fprintf(tw, "KubeEdge (published)\tp99\t\t\t%.1f\t\t\t\t\n", r.KubeEdgeP99Seconds)
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "runtime\tready after start s\tRSS idle\tRSS with pods\tteardown s\t")
	for _, m := range r.Runtimes {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%.1f\t\n", m.Runtime, m.AgentReadySeconds, mib(m.RSSIdle), mib(m.RSSLoaded), m.TeardownSeconds)
	}
	tw.Flush()
	k, e := r.byRuntime(runtimeKubelet), r.byRuntime(runtimeEdgecore)
	if k == nil || e == nil {
		return
	}
	fmt.Fprintln(w)
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	if k.Burst != nil && e.Burst != nil {
		fmt.Fprintf(w, "edgecore/kubelet burst p99: %s (target ≤ 1×)\n", ratio(e.Burst.P99Seconds, k.Burst.P99Seconds))
		fmt.Fprintf(w, "edgecore/kubelet burst p50: %s\n", ratio(e.Burst.P50Seconds, k.Burst.P50Seconds))
	}
	if k.Sequential != nil && e.Sequential != nil {
		fmt.Fprintf(w, "edgecore/kubelet sequential p99: %s\n", ratio(e.Sequential.P99Seconds, k.Sequential.P99Seconds))
	}
	fmt.Fprintf(w, "edgecore/kubelet RSS idle: %s, with pods: %s (target ≤ 0.5×)\n",
		ratio(float64(e.RSSIdle), float64(k.RSSIdle)), ratio(float64(e.RSSLoaded), float64(k.RSSLoaded)))
}
