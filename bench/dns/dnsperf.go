package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type perfResult struct {
	qps, avgLatency, runTime float64
	lost                     int
	rcodes                   string
	p50, p99                 float64
	samples                  int
}

var (
	reQPS    = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reAvg    = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	reLost   = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
	reRcodes = regexp.MustCompile(`Response codes:\s+(.*)`)
	reRun    = regexp.MustCompile(`Run time \(s\):\s+([0-9.]+)`)
)

// dnsperf runs one dnsperf of c.duration against addr. rate > 0 limits the
// queries per second; verbose makes dnsperf print every answer's latency,
// from which p50/p99 are computed.
func dnsperf(c config, addr, file string, rate float64, verbose bool) (perfResult, error) {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-s", host, "-p", port, "-d", file,
		"-l", strconv.Itoa(int(c.duration.Seconds())), "-c", strconv.Itoa(c.clients), "-q", strconv.Itoa(c.inflight), "-t", "2"}
	if rate > 0 {
		args = append(args, "-Q", strconv.Itoa(int(rate)))
	}
	if verbose {
		args = append(args, "-v")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.duration+30*time.Second)
	defer cancel()
	cmd := pinned(ctx, c, c.loadCPU, "dnsperf", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return perfResult{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return perfResult{}, err
	}
	var res perfResult
	var lat []float64
	var summary strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "> ") {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				lat = append(lat, v)
			}
			continue
		}
		summary.WriteString(line)
		summary.WriteByte('\n')
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("dnsperf: %w\n%s%s", err, summary.String(), stderr.String())
	}
	out := summary.String()
	m := reQPS.FindStringSubmatch(out)
	if m == nil {
		return res, fmt.Errorf("no QPS in dnsperf output:\n%s", out)
	}
	res.qps, _ = strconv.ParseFloat(m[1], 64)
	if m := reAvg.FindStringSubmatch(out); m != nil {
		res.avgLatency, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reRun.FindStringSubmatch(out); m != nil {
		res.runTime, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reLost.FindStringSubmatch(out); m != nil {
		res.lost, _ = strconv.Atoi(m[1])
	}
	if m := reRcodes.FindStringSubmatch(out); m != nil {
		res.rcodes = strings.TrimSpace(m[1])
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.samples = len(lat)
		res.p50 = lat[len(lat)*50/100]
		res.p99 = lat[min(len(lat)*99/100, len(lat)-1)]
	}
	return res, nil
}
