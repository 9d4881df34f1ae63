// Command demo is `make demo`: it brings up the lab — a real kube-apiserver on a public cloud
// host, a relay, and two sites behind easy and hard NAT — runs the mesh agent on every site host
// and stand-in pods at site B, then calls B's services by name from site A over TCP and UDP and
// prints each answer, the tunnel paths and latency. KEEP=1 leaves it up until Ctrl-C.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/test/meshlab"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

var t0 = time.Now()

func step(format string, a ...any) {
	fmt.Printf("[%6.2fs] %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, a...))
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(f string, a ...any) {
		if os.Getenv("VERBOSE") != "" {
			fmt.Fprintf(os.Stderr, f+"\n", a...)
		}
	}
	r, err := lab.NewRun(logf)
	if err != nil {
		return err
	}
	defer func() {
		step("tearing everything down")
		if err := r.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: cleanup:", err)
		}
	}()

	step("building edgemesh-agent, outpost-relay and the stand-in pod")
	bin := filepath.Join(r.Dir, "bin")
	if err := meshlab.Build(bin); err != nil {
		return err
	}
	step("network: public cloud + relay hosts, site a (easy NAT: a1, a2), site b (hard NAT: b1, b2); kube-apiserver v1.36.3 on cloud")
	m, err := meshlab.Start(ctx, r, meshlab.Options{Bin: bin})
	if err != nil {
		return err
	}
	step("Services shop/web (TCP 80) and shop/echo (UDP 53), endpoints: stand-in pods on b1 and b2")
	for _, h := range []string{"b1", "b2"} {
		if _, err := m.StartPod(h, "web-"+h); err != nil {
			return err
		}
	}
	for _, s := range []meshlab.Service{
		{Namespace: "shop", Name: "web", Protocol: corev1.ProtocolTCP, Port: 80, PodPort: 8080, Endpoints: []string{"b1", "b2"}},
		{Namespace: "shop", Name: "echo", Protocol: corev1.ProtocolUDP, Port: 53, PodPort: 9053, Endpoints: []string{"b1", "b2"}},
	} {
		if _, err := m.AddService(ctx, s); err != nil {
			return err
		}
	}
	step("mesh agents on a1, a2, b1, b2: syncing with the apiserver through their NATs")
	for _, h := range []string{"a1", "a2", "b1", "b2"} {
		if err := m.StartAgent(ctx, h, true); err != nil {
			return err
		}
	}
	if err := calls(ctx, m); err != nil {
		return err
	}
	if os.Getenv("KEEP") != "" {
		printPoke(m)
		<-ctx.Done()
	}
	return nil
}

func calls(ctx context.Context, m *meshlab.Mesh) error {
	a1 := m.Net.Host("a1")
	fmt.Println()
	step("from a1 (site a), calling services whose endpoints are at site b, by name")
	webIP, rtt, err := meshlab.Lookup(ctx, a1, "web.shop.svc.cluster.local")
	if err != nil {
		return err
	}
	fmt.Printf("    dig @%s web.shop.svc.cluster.local   ->  %-15s (%v)\n", meshlab.DNSIP, webIP, rtt.Round(time.Microsecond))
	echoIP, rtt, err := meshlab.Lookup(ctx, a1, "echo.shop.svc.cluster.local")
	if err != nil {
		return err
	}
	fmt.Printf("    dig @%s echo.shop.svc.cluster.local  ->  %-15s (%v)\n", meshlab.DNSIP, echoIP, rtt.Round(time.Microsecond))
	var lat []time.Duration
	for i := 0; i < 6; i++ {
		start := time.Now()
		body, err := meshlab.HTTPGet(ctx, a1, net.JoinHostPort(webIP.String(), "80"))
		if err != nil {
			return fmt.Errorf("TCP call %d: %w\n%s", i, err, m.Agents["a1"].Tail(15))
		}
		el := time.Since(start)
		lat = append(lat, el)
		fmt.Printf("    TCP  GET http://web.shop.svc.cluster.local/  ->  %-42s %v\n", strings.TrimSpace(body), el.Round(time.Microsecond))
	}
	for i := 0; i < 4; i++ {
		start := time.Now()
		reply, err := meshlab.UDPCall(ctx, a1, net.JoinHostPort(echoIP.String(), "53"), fmt.Sprintf("ping %d", i))
		if err != nil {
			return fmt.Errorf("UDP call %d: %w\n%s", i, err, m.Agents["a1"].Tail(15))
		}
		el := time.Since(start)
		lat = append(lat, el)
		fmt.Printf("    UDP  echo.shop.svc.cluster.local:53        ->  %-42s %v\n", reply, el.Round(time.Microsecond))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("    %d calls: latency min %v, median %v, max %v (the first calls open the tunnel)\n",
		len(lat), lat[0].Round(time.Microsecond), lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))

	st, err := m.Status("a1")
	if err != nil {
		return err
	}
	fmt.Println()
	step("tunnel paths seen by a1's agent")
	for _, p := range st.Peers {
		fmt.Printf("    %-3s %-6s via %-6s candidates %-11s rtt %-9v sent %6d B  received %6d B\n", p.Peer, p.Path, orDash(p.Relay),
			p.LocalCandidate+"/"+p.RemoteCandidate, p.RTT.Round(time.Microsecond), p.BytesSent, p.BytesReceived)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printPoke(m *meshlab.Mesh) {
	bin, _ := lab.KubernetesBinDir()
	a1 := m.Net.Host("a1").NS
	fmt.Println()
	fmt.Println("KEEP=1: the lab stays up until Ctrl-C. Try:")
	fmt.Printf("  %s/kubectl --kubeconfig %s get svc,endpointslices -n shop\n", bin, m.CP.Kubeconfig)
	fmt.Printf("  ip netns exec %s dig @%s web.shop.svc.cluster.local\n", a1, meshlab.DNSIP)
	fmt.Printf("  ip netns exec %s iptables-save -t nat\n", a1)
	fmt.Printf("  ip netns exec %s curl -s http://%s/status\n", a1, meshlab.HealthAddr)
	for name, p := range m.Agents {
		fmt.Printf("  agent %s log: %s\n", name, p.LogPath)
	}
}
