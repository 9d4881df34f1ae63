package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// results is the whole run (the -json output).
type results struct {
	Date        string      `json:"date"`
	Machine     string      `json:"machine"`
	WallSeconds float64     `json:"wallSeconds"`
	Rounds      []*round    `json:"rounds"`
	Edge        *edgeResult `json:"edge,omitempty"`
}

// round is one edge count.
type round struct {
	Nodes              int     `json:"nodes"`
	Mesh               bool    `json:"meshObjects"`
	NodesCreated       int     `json:"nodesCreated"`
	CreateSeconds      float64 `json:"createSeconds"`
	CertSeconds        float64 `json:"certSeconds"`
	InitialSyncObjects int     `json:"initialSyncObjects"`
	Server             struct {
		Before            serverSnap `json:"before"`
		After             serverSnap `json:"afterConnect"`
		Idle              serverSnap `json:"afterIdle"`
		RSSPerEdgeKB      float64    `json:"rssPerEdgeKB"`
		GCRSSPerEdgeKB    float64    `json:"rssAfterGCPerEdgeKB"`
		HeapPerEdgeKB     float64    `json:"heapPerEdgeKB"`
		GoroutinesPerEdge float64    `json:"goroutinesPerEdge"`
	} `json:"server"`
	Connect phase     `json:"connect"`
	Service *delivery `json:"service,omitempty"`
	Idle    struct {
		Seconds             float64 `json:"seconds"`
		UpBytesPerEdgeMin   float64 `json:"upBytesPerEdgeMin"`
		DownBytesPerEdgeMin float64 `json:"downBytesPerEdgeMin"`
		ServerCPUPercent    float64 `json:"serverCPUPercent"`
	} `json:"idle"`
	Heartbeat *fanout  `json:"heartbeatFanout,omitempty"`
	Storm     phase    `json:"storm"`
	Errors    int      `json:"edgeErrors"`
	Notes     []string `json:"notes,omitempty"`
}

type serverSnap struct {
	RSS          int64   `json:"rssBytes"`
	RSSAfterGC   int64   `json:"rssAfterGCBytes"`
	HeapInuse    float64 `json:"heapInuseBytes"`
	Goroutines   float64 `json:"goroutines"`
	Connected    int     `json:"connected"`
	APIServerRSS int64   `json:"apiserverRSSBytes"`
	EtcdRSS      int64   `json:"etcdRSSBytes"`
}

// phase is a connect or a reconnect storm.
type phase struct {
	DisconnectSeconds float64 `json:"disconnectSeconds,omitempty"`
	HelloSeconds      float64 `json:"helloSeconds"`
	SyncedSeconds     float64 `json:"syncedSeconds"`
	Synced            int     `json:"synced"`
	Failed            int     `json:"failed"`
	PeakRSS           int64   `json:"peakRSSBytes"`
	CPU               cpuUse  `json:"cpuSeconds"`
	Retries           int     `json:"dialRetries"`
	BytesDownPerEdge  float64 `json:"bytesDownPerEdge,omitempty"`
}

// fanout is what Node status heartbeats (every node every 10 s) cost with mesh objects: all
// changes per edge, and those that are another edge's Node.
type fanout struct {
	Seconds                   float64 `json:"seconds"`
	PatchesPerSecond          float64 `json:"patchesPerSecond"`
	ChangesPerEdgePerSecond   float64 `json:"changesPerEdgePerSecond"`
	ForeignPerEdgePerSecond   float64 `json:"otherNodesChangesPerEdgePerSecond"`
	DownBytesPerEdgePerSecond float64 `json:"downBytesPerEdgePerSecond"`
	ServerCPUPercent          float64 `json:"serverCPUPercent"`
	CPU                       cpuUse  `json:"cpuSeconds"`
}

// delivery is the Service update's arrival, seconds from the create call.
type delivery struct {
	Delivered int     `json:"delivered"`
	Complete  int     `json:"withEndpointSlice"`
	P50       float64 `json:"p50"`
	P99       float64 `json:"p99"`
	Max       float64 `json:"max"`
	BothP99   float64 `json:"withEndpointSliceP99"`
	// FramesPerEdge is the sync frames cloudcore sent per edge while the update spread.
	FramesPerEdge float64 `json:"framesPerEdge"`
	CPU           cpuUse  `json:"cpuSeconds"`
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "bench/cloudcore %s, %s, wall %.0f s\n\n", r.Date, r.Machine, r.WallSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, target string, f func(*round) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, rd := range r.Rounds {
			fmt.Fprintf(tw, "%s\t", f(rd))
		}
		fmt.Fprintf(tw, "%s\n", target)
	}
	row("edges", "target", func(rd *round) string { return fmt.Sprintf("N=%d", rd.Nodes) })
	row("mesh share (Services, Slices, hosting Nodes pruned)", "", func(rd *round) string { return fmt.Sprint(rd.Mesh) })
	row("Node objects created in apiserver", "", func(rd *round) string {
		return fmt.Sprintf("%d in %.1f s (%.0f/s)", rd.NodesCreated, rd.CreateSeconds, float64(rd.NodesCreated)/max(rd.CreateSeconds, 1e-9))
	})
	row("node certs issued (P-256)", "", func(rd *round) string { return fmt.Sprintf("%.1f s", rd.CertSeconds) })
	row("objects per initial sync", "", func(rd *round) string { return fmt.Sprint(rd.InitialSyncObjects) })
	row("cloudcore RSS before / after connect", "", func(rd *round) string {
		return mb(rd.Server.Before.RSS) + " / " + mb(rd.Server.After.RSS)
	})
	row("cloudcore RSS per idle edge", "≤ 100 KB", func(rd *round) string { return fmt.Sprintf("%.1f KB", rd.Server.RSSPerEdgeKB) })
	row("  same after a forced GC (before / after connect)", "", func(rd *round) string {
		return fmt.Sprintf("%.1f KB (%s / %s)", rd.Server.GCRSSPerEdgeKB, mb(rd.Server.Before.RSSAfterGC), mb(rd.Server.After.RSSAfterGC))
	})
	row("  heap in use / goroutines per edge", "", func(rd *round) string {
		return fmt.Sprintf("%.1f KB / %.1f", rd.Server.HeapPerEdgeKB, rd.Server.GoroutinesPerEdge)
	})
	row("cloudcore RSS after idle window (after GC)", "", func(rd *round) string {
		return mb(rd.Server.Idle.RSS) + " (" + mb(rd.Server.Idle.RSSAfterGC) + ")"
	})
	row("connect: all Hello / all initial syncs", "", func(rd *round) string {
		return fmt.Sprintf("%.1f s / %.1f s (%d/%d)", rd.Connect.HelloSeconds, rd.Connect.SyncedSeconds, rd.Connect.Synced, rd.Nodes)
	})
	row("connect: cloudcore peak RSS; dial retries", "", func(rd *round) string {
		return fmt.Sprintf("%s; %d", mb(rd.Connect.PeakRSS), rd.Connect.Retries)
	})
	row("connect: CPU cloudcore / generator / apiserver+etcd", "", func(rd *round) string { return rd.Connect.CPU.String() })
	row("connect: bytes down per edge", "", func(rd *round) string { return fmt.Sprintf("%.0f KB", rd.Connect.BytesDownPerEdge/1024) })
	row("Service update to every edge p50 / p99", "p99 ≤ 2 s", func(rd *round) string {
		if rd.Service == nil {
			return "n/a (no mesh objects)"
		}
		return fmt.Sprintf("%.3f / %.3f s (%d/%d)", rd.Service.P50, rd.Service.P99, rd.Service.Delivered, rd.Nodes)
	})
	row("  with its EndpointSlice p99; cloudcore CPU; frames per edge", "", func(rd *round) string {
		if rd.Service == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.3f s; %.1f s; %.2f", rd.Service.BothP99, rd.Service.CPU.Server, rd.Service.FramesPerEdge)
	})
	row("idle bytes per edge per minute up / down", "", func(rd *round) string {
		return fmt.Sprintf("%.0f / %.0f B", rd.Idle.UpBytesPerEdgeMin, rd.Idle.DownBytesPerEdgeMin)
	})
	row("idle cloudcore CPU", "", func(rd *round) string { return fmt.Sprintf("%.1f %%", rd.Idle.ServerCPUPercent) })
	row("Node heartbeats (N/10 per s): patches/s → changes/s per edge", "", func(rd *round) string {
		if rd.Heartbeat == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.0f → %.2f (%.0f B/s per edge)", rd.Heartbeat.PatchesPerSecond, rd.Heartbeat.ChangesPerEdgePerSecond, rd.Heartbeat.DownBytesPerEdgePerSecond)
	})
	row("  of which other edges' Nodes, per edge per s", "", func(rd *round) string {
		if rd.Heartbeat == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.3f", rd.Heartbeat.ForeignPerEdgePerSecond)
	})
	row("  cloudcore CPU during heartbeats", "", func(rd *round) string {
		if rd.Heartbeat == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.0f %% of a core", rd.Heartbeat.ServerCPUPercent)
	})
	row("storm: hub saw drops / all Hello / all synced", "", func(rd *round) string {
		return fmt.Sprintf("%.1f / %.1f / %.1f s (%d/%d)", rd.Storm.DisconnectSeconds, rd.Storm.HelloSeconds, rd.Storm.SyncedSeconds, rd.Storm.Synced, rd.Nodes)
	})
	row("storm: cloudcore peak RSS; dial retries", "", func(rd *round) string {
		return fmt.Sprintf("%s; %d", mb(rd.Storm.PeakRSS), rd.Storm.Retries)
	})
	row("storm: CPU cloudcore / generator / apiserver+etcd", "", func(rd *round) string { return rd.Storm.CPU.String() })
	row("apiserver / etcd RSS at end", "", func(rd *round) string {
		return mb(rd.Server.Idle.APIServerRSS) + " / " + mb(rd.Server.Idle.EtcdRSS)
	})
	row("edge-side errors", "", func(rd *round) string { return fmt.Sprint(rd.Errors) })
	tw.Flush()
	for _, rd := range r.Rounds {
		for _, n := range rd.Notes {
			fmt.Fprintf(w, "note N=%d: %s\n", rd.Nodes, n)
		}
	}
	if r.Edge != nil {
		fmt.Fprintf(w, "\nedge footprint (metastore + metaserver, 100 pods, 100 configmaps, 50 services): RSS %s (target ≤ 35 MB)\n", mb(r.Edge.RSS))
	}
}
