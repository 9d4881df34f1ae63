// Command outpostdns serves N generated ClusterIP services (see
// bench/dns/internal/services) with Outpost's dns package, for the DNS
// benchmark. It prints "ready" once it serves and stops on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/bench/dns/internal/services"
	"github.com/outpostmesh/outpost/dns"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5300", "address to serve on, UDP and TCP")
	n := flag.Int("services", 10000, "number of services")
	resolvConf := flag.String("resolv-conf", "/dev/null", "resolv.conf for upstreams (the benchmark queries only the zone)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until stopped")
	klog.InitFlags(nil)
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "outpostdns:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*listen, *n, *resolvConf); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "outpostdns:", err)
		os.Exit(1)
	}
}

func run(listen string, n int, resolvConf string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	catalog := dns.NewMemoryCatalog()
	for i := range n {
		name, ns := services.Name(i)
		catalog.Upsert(dns.Service{
			Name: name, Namespace: ns, Type: dns.ClusterIP,
			ClusterIPs: []netip.Addr{services.IP(i)},
			Ports:      []dns.Port{{Name: "http", Protocol: "TCP", Port: 80}},
		})
	}
	opts := dns.NewDefaultOptions(catalog)
	opts.Zone = services.Zone
	opts.Listen = []string{listen}
	opts.ResolvConf = resolvConf
	opts.Logger = klog.Background()
	opts.Registerer = prometheus.NewRegistry() // as in the agent: metrics on, just not scraped here
	srv, err := dns.NewServer(opts)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return err
	}
	fmt.Println("ready", srv.Addrs()[0])
	<-ctx.Done()
	return srv.Close()
}
