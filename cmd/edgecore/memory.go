package main

import (
	"os"
	"runtime/debug"

	"k8s.io/klog/v2"
)

// defaultGCPercent is edgecore's GC target unless GOGC is set. Go's default, 100, lets the
// heap grow to twice the live data before a collection; edgecore's live heap is small (a few
// MiB: informer caches of one node's objects, the hub session) but its garbage rate is high
// in bursts (watch events decoded by edged, the metaserver and the mesh agent's clients), so
// the peaks between collections are a large share of its RSS. 50 collects at 1.5× the live
// heap: bench/edged measured lower RSS for little CPU (numbers in bench/edged/README.md);
// 25 saved little more and cost more CPU.
const defaultGCPercent = 50

// applyMemorySettings sets the GC percent unless the operator chose one with GOGC. A soft
// limit (GOMEMLIMIT, e.g. GOMEMLIMIT=64MiB) is read by the Go runtime itself; edgecore sets
// none by default because it cannot know the node's memory budget.
func applyMemorySettings(logger klog.Logger) {
	if _, set := os.LookupEnv("GOGC"); set {
		logger.V(1).Info("GC percent from GOGC", "GOGC", os.Getenv("GOGC"))
		return
	}
	debug.SetGCPercent(defaultGCPercent)
}
