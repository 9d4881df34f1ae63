// Command dns benchmarks Outpost's DNS server against CoreDNS serving the same
// 10,000 services on loopback, with load from dnsperf.
//
//	go run ./bench/dns [-services 10000] [-duration 10s]
//
// Both servers run as separate processes pinned to CPU 0 with GOMAXPROCS=1;
// dnsperf runs pinned to CPU 1. See README.md for how to read the output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/bench/dns/internal/services"
	"github.com/outpostmesh/outpost/test/lab"
)

type config struct {
	services  int
	duration  time.Duration
	clients   int
	inflight  int
	serverCPU string
	loadCPU   string
	keep      bool
	rounds    int
	nice      int
	rateShare float64
}

func main() {
	var c config
	flag.IntVar(&c.services, "services", 10000, "number of services served")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of each dnsperf run")
	flag.IntVar(&c.clients, "clients", 8, "dnsperf clients (sockets)")
	flag.IntVar(&c.inflight, "inflight", 200, "dnsperf maximum outstanding queries")
	flag.StringVar(&c.serverCPU, "server-cpu", "0", "CPU list the servers are pinned to (taskset -c)")
	flag.StringVar(&c.loadCPU, "load-cpu", "1", "CPU list dnsperf is pinned to (taskset -c)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory under /tmp")
	flag.IntVar(&c.nice, "nice", 0, "niceness for the servers and dnsperf (negative: ahead of other work on the machine; needs root)")
	flag.Float64Var(&c.rateShare, "latency-load", 0.25, "fixed rate of the latency runs, as a share of the slower server's best QPS")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds of runs, alternating which server goes first; the best run of each is reported")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dns:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	for _, tool := range []string{"dnsperf", "taskset", "go", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %w (apt-get install dnsperf util-linux)", tool, err)
		}
	}
	if runtime.NumCPU() < 2 {
		return errors.New("need 2 CPUs: one for the server under test, one for dnsperf")
	}
	if _, err := os.Stat("bench/dns/build-coredns.sh"); err != nil {
		return errors.New("run from the repository root: go run ./bench/dns")
	}
	work, err := os.MkdirTemp("/tmp", "outpost-dnsbench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(work)
	}

	fmt.Println("== building")
	corednsBin, err := output(exec.Command("bash", "bench/dns/build-coredns.sh"))
	if err != nil {
		return fmt.Errorf("build coredns: %w", err)
	}
	corednsVersion, _ := output(exec.Command(corednsBin, "-version"))
	outpostBin := filepath.Join(work, "outpostdns")
	if _, err := output(exec.Command("go", "build", "-o", outpostBin, "./bench/dns/outpostdns")); err != nil {
		return fmt.Errorf("build outpostdns: %w", err)
	}

	hits, search, err := writeInputs(work, c.services)
	if err != nil {
		return err
	}

	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	ours := &server{name: "outpost", addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	ours.cmd = pinned(context.Background(), c, c.serverCPU, outpostBin, "-listen", ours.addr,
		"-services", strconv.Itoa(c.services), "-resolv-conf", "/dev/null", "-v=0")
	theirs := &server{name: "coredns", addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}
	corefile := filepath.Join(work, "Corefile")
	if err := os.WriteFile(corefile, []byte(fmt.Sprintf("%s:%d {\n\tbind 127.0.0.1\n\tfile %s\n}\n",
		services.Zone, ports[1], filepath.Join(work, "db."+services.Zone))), 0o644); err != nil {
		return err
	}
	theirs.cmd = pinned(context.Background(), c, c.serverCPU, corednsBin, "-conf", corefile, "-quiet")
	theirs.cmd.Dir = work

	all := []*server{ours, theirs}
	for _, s := range all {
		if err := s.start(work); err != nil {
			stopAll(all)
			return err
		}
	}
	defer stopAll(all)
	for _, s := range all {
		if err := s.waitReady(services.FQDN(c.services-1), 20*time.Second); err != nil {
			return err
		}
	}

	fmt.Printf("== machine: %d CPUs, %s; %s; dnsperf %s\n", runtime.NumCPU(), cpuModel(), strings.SplitN(corednsVersion, "\n", 2)[0], dnsperfVersion())
	fmt.Printf("== %d services; servers pinned to CPU %s with GOMAXPROCS=1, dnsperf to CPU %s; %v per run; nice %d\n",
		c.services, c.serverCPU, c.loadCPU, c.duration, c.nice)
	idle := map[string]int64{}
	for _, s := range all {
		idle[s.name] = lab.StatusKB(s.cmd.Process.Pid, "VmRSS")
	}

	// Throughput: dnsperf as fast as the server answers (at most `inflight`
	// outstanding). Latency: both at the same fixed rate, a share
	// (-latency-load) of the slower server's best throughput. Rounds alternate which server goes first; the
	// best run of each (highest QPS, lowest p99) is kept, as other load on the
	// machine only ever makes a run worse.
	type row struct {
		perf     perfResult
		cpuSec   float64
		rssKB    int64
		hwmKB    int64
		p50, p99 float64
	}
	results := map[string]map[string]*row{} // set -> server -> best row
	sets := []struct{ name, file string }{{"hits", hits}, {"search", search}}
	for _, set := range sets {
		results[set.name] = map[string]*row{}
	}
	order := func(round int) []*server {
		if round%2 == 1 {
			return []*server{theirs, ours}
		}
		return all
	}
	for round := range c.rounds {
		for _, set := range sets {
			for _, s := range order(round) {
				pid := s.cmd.Process.Pid
				cpu0 := lab.CPUSeconds(pid)
				p, err := dnsperf(c, s.addr, set.file, 0, false)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.name, set.name, err)
				}
				r := &row{perf: p, cpuSec: lab.CPUSeconds(pid) - cpu0, rssKB: lab.StatusKB(pid, "VmRSS"), hwmKB: lab.StatusKB(pid, "VmHWM")}
				fmt.Printf("   round %d %-7s %-6s %8.0f qps  avg %6.3f ms  server CPU %3.0f%%  lost %d  rcodes %s\n",
					round+1, s.name, set.name, p.qps, p.avgLatency*1000, 100*r.cpuSec/p.runTime, p.lost, p.rcodes)
				if best := results[set.name][s.name]; best == nil || p.qps > best.perf.qps {
					results[set.name][s.name] = r
				}
			}
		}
	}
	rate := min(results["hits"]["outpost"].perf.qps, results["hits"]["coredns"].perf.qps) * c.rateShare
	lat := map[string]*row{}
	for round := range c.rounds {
		for _, s := range order(round) {
			p, err := dnsperf(c, s.addr, hits, rate, true)
			if err != nil {
				return fmt.Errorf("%s latency: %w", s.name, err)
			}
			fmt.Printf("   round %d %-7s fixed %6.0f qps  p50 %.3f ms  p99 %.3f ms  (%d samples)\n", round+1, s.name, rate, p.p50*1000, p.p99*1000, p.samples)
			if best := lat[s.name]; best == nil || p.p99 < best.p99 {
				lat[s.name] = &row{p50: p.p50, p99: p.p99}
			}
		}
	}
	for name, l := range lat {
		results["hits"][name].p50, results["hits"][name].p99 = l.p50, l.p99
	}

	fmt.Println()
	fmt.Printf("%-34s %12s %12s %8s\n", "metric", "outpost", "coredns", "ratio")
	line := func(name string, a, b float64, format string) {
		ratio := "-"
		if b != 0 {
			ratio = fmt.Sprintf("%.2f", a/b)
		}
		fmt.Printf("%-34s %12s %12s %8s\n", name, fmt.Sprintf(format, a), fmt.Sprintf(format, b), ratio)
	}
	for _, set := range sets {
		o, k := results[set.name]["outpost"], results[set.name]["coredns"]
		line("QPS "+set.name+" (1 core)", o.perf.qps, k.perf.qps, "%.0f")
		line("QPS per CPU-second "+set.name, o.perf.qps*o.perf.runTime/o.cpuSec, k.perf.qps*k.perf.runTime/k.cpuSec, "%.0f")
		line("avg latency "+set.name+" at max (ms)", o.perf.avgLatency*1000, k.perf.avgLatency*1000, "%.3f")
	}
	o, k := results["hits"]["outpost"], results["hits"]["coredns"]
	line(fmt.Sprintf("p50 latency at %.0f qps (ms)", rate), o.p50*1000, k.p50*1000, "%.3f")
	line(fmt.Sprintf("p99 latency at %.0f qps (ms)", rate), o.p99*1000, k.p99*1000, "%.3f")
	line("RSS idle, loaded (MB)", float64(idle["outpost"])/1024, float64(idle["coredns"])/1024, "%.1f")
	line("RSS after load (MB)", float64(o.rssKB)/1024, float64(k.rssKB)/1024, "%.1f")
	line("peak RSS, VmHWM (MB)", float64(o.hwmKB)/1024, float64(k.hwmKB)/1024, "%.1f")
	fmt.Println("\nratio = outpost / coredns: above 1 is better for QPS, below 1 is better for latency and RSS.")
	return nil
}

// writeInputs writes the CoreDNS zone file and two dnsperf query files:
// "hits" asks every service's A record; "search" adds, per service, the
// misses a pod with ndots:5 sends first (name.ns.svc.<zone>, name.svc.<zone>,
// name.<zone> appended to an already-qualified name): 1 hit for 3 NXDOMAINs.
func writeInputs(dir string, n int) (hits, search string, err error) {
	var zone, hq, sq strings.Builder
	fmt.Fprintf(&zone, "$ORIGIN %s.\n$TTL 5\n", services.Zone)
	fmt.Fprintf(&zone, "@ IN SOA ns.dns.%[1]s. hostmaster.%[1]s. 1 7200 1800 86400 5\n@ IN NS ns.dns.%[1]s.\nns.dns IN A 127.0.0.1\n", services.Zone)
	for i := range n {
		name, ns := services.Name(i)
		fqdn := services.FQDN(i)
		fmt.Fprintf(&zone, "%s.%s.svc IN A %s\n", name, ns, services.IP(i))
		fmt.Fprintf(&hq, "%s A\n", fqdn)
		base := strings.TrimSuffix(fqdn, ".")
		fmt.Fprintf(&sq, "%s.%s.svc.%s A\n%s.svc.%s A\n%s.%s A\n%s A\n", base, ns, services.Zone, base, services.Zone, base, services.Zone, fqdn)
	}
	hits, search = filepath.Join(dir, "queries-hits.txt"), filepath.Join(dir, "queries-search.txt")
	for p, b := range map[string]string{filepath.Join(dir, "db."+services.Zone): zone.String(), hits: hq.String(), search: sq.String()} {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			return "", "", err
		}
	}
	return hits, search, nil
}

func output(cmd *exec.Cmd) (string, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// pinned returns a command running name on cpus (taskset) at c.nice; nice
// and taskset exec it, so the process keeps the command's PID.
func pinned(ctx context.Context, c config, cpus, name string, args ...string) *exec.Cmd {
	full := append([]string{"-n", strconv.Itoa(c.nice), "taskset", "-c", cpus, name}, args...)
	return exec.CommandContext(ctx, "nice", full...)
}
