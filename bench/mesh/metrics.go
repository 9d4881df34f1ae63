package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/test/meshlab"
)

// goStats are Go runtime counters from an agent's /metrics (its Prometheus Go collector).
type goStats struct {
	AllocBytes float64 // go_memstats_alloc_bytes_total
	GCs        float64 // go_gc_duration_seconds_count
}

// scrapeGoStats reads an agent's /metrics from inside its namespace; ok is false when it
// cannot (the numbers are then left out, not guessed).
func scrapeGoStats(h *lab.Host) (goStats, bool) {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: h.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + meshlab.HealthAddr + "/metrics")
	if err != nil {
		return goStats{}, false
	}
	defer resp.Body.Close()
	var st goStats
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_alloc_bytes_total":
			st.AllocBytes, found = v, found+1
		case "go_gc_duration_seconds_count":
			st.GCs, found = v, found+1
		}
	}
	return st, found == 2
}
