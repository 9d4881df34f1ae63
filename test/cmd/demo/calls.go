package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
)

// httpVia is an HTTP client whose connections start in host h's namespace.
func httpVia(h *lab.Host) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: h.DialContext, DisableKeepAlives: true}}
}

func (d *demo) waitAgents(ctx context.Context) error {
	step("starting mesh agents on %s; waiting for them to sync with the apiserver through the NATs", strings.Join(agentHosts, ", "))
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range agentHosts {
		hc := httpVia(d.net.Host(name))
		for {
			resp, err := hc.Get("http://" + healthAddr + "/status")
			if err == nil {
				var st struct {
					Services    int  `json:"services"`
					APISynced   bool `json:"apiSynced"`
					ProxyInSync bool `json:"proxyInSync"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&st)
				resp.Body.Close()
				if st.APISynced && st.ProxyInSync && st.Services >= 3 {
					break
				}
			}
			select {
			case <-d.agents[name].Done():
				return fmt.Errorf("agent %s exited:\n%s", name, d.agents[name].Tail(20))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("agent %s not synced:\n%s", name, d.agents[name].Tail(20))
			}
		}
	}
	return nil
}

// lookup asks the agent's DNS on host h for name's A record.
func lookup(ctx context.Context, h *lab.Host, name string) (net.IP, time.Duration, error) {
	conn, err := h.DialContext(ctx, "udp", net.JoinHostPort(dnsIP, "53"))
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	c := &mdns.Client{Timeout: 2 * time.Second}
	start := time.Now()
	r, _, err := c.ExchangeWithConnContext(ctx, m, &mdns.Conn{Conn: conn})
	if err != nil {
		return nil, 0, err
	}
	rtt := time.Since(start)
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			return a.A, rtt, nil
		}
	}
	return nil, rtt, fmt.Errorf("no A record for %s (%s)", name, mdns.RcodeToString[r.Rcode])
}

func (d *demo) calls(ctx context.Context) error {
	a1 := d.net.Host("a1")
	fmt.Println()
	step("from a1 (site a, easy NAT), calling services whose endpoints are at site b (hard NAT)")
	webIP, rtt, err := lookup(ctx, a1, "web.shop.svc.cluster.local")
	if err != nil {
		return err
	}
	fmt.Printf("    dig @%s web.shop.svc.cluster.local  ->  %s   (%v)\n", dnsIP, webIP, rtt.Round(time.Microsecond))
	echoIP, rtt, err := lookup(ctx, a1, "echo.shop.svc.cluster.local")
	if err != nil {
		return err
	}
	fmt.Printf("    dig @%s echo.shop.svc.cluster.local ->  %s   (%v)\n", dnsIP, echoIP, rtt.Round(time.Microsecond))

	var lat []time.Duration
	for i := 0; i < 6; i++ {
		start := time.Now()
		body, err := get(ctx, a1, net.JoinHostPort(webIP.String(), "80"))
		if err != nil {
			return fmt.Errorf("TCP call %d: %w\n%s", i, err, d.agents["a1"].Tail(15))
		}
		el := time.Since(start)
		lat = append(lat, el)
		fmt.Printf("    TCP  http://web.shop.svc.cluster.local/  ->  %-40s %v\n", strings.TrimSpace(body), el.Round(time.Microsecond))
	}
	for i := 0; i < 4; i++ {
		start := time.Now()
		reply, err := udpCall(ctx, a1, net.JoinHostPort(echoIP.String(), "53"), fmt.Sprintf("ping %d", i))
		if err != nil {
			return fmt.Errorf("UDP call %d: %w\n%s", i, err, d.agents["a1"].Tail(15))
		}
		el := time.Since(start)
		lat = append(lat, el)
		fmt.Printf("    UDP  echo.shop.svc.cluster.local:53      ->  %-40s %v\n", reply, el.Round(time.Microsecond))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("    calls: %d, latency min %v, median %v, max %v (first calls include opening the tunnel)\n",
		len(lat), lat[0].Round(time.Microsecond), lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	return d.printPaths(ctx)
}

func get(ctx context.Context, h *lab.Host, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: web.shop.svc.cluster.local\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func udpCall(ctx context.Context, h *lab.Host, addr, msg string) (string, error) {
	c, err := h.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no answer from %s", addr)
}

func (d *demo) printPaths(ctx context.Context) error {
	resp, err := httpVia(d.net.Host("a1")).Get("http://" + healthAddr + "/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		Peers []tunnel.PeerStatus `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return err
	}
	fmt.Println()
	step("tunnel paths seen by a1's agent")
	for _, p := range st.Peers {
		fmt.Printf("    %-4s path %-6s relay %-6s candidates %s/%s  rtt %v  sent %d B  received %d B\n",
			p.Peer, p.Path, p.Relay, p.LocalCandidate, p.RemoteCandidate, p.RTT.Round(time.Microsecond), p.BytesSent, p.BytesReceived)
	}
	return nil
}

func (d *demo) printPoke() {
	bin, _ := lab.KubernetesBinDir()
	fmt.Println()
	fmt.Println("KEEP=1: the lab stays up until Ctrl-C. Try:")
	fmt.Printf("  %s/kubectl --kubeconfig %s get svc,endpointslices -n shop\n", bin, d.cp.Kubeconfig)
	fmt.Printf("  ip netns exec %s dig @%s web.shop.svc.cluster.local\n", d.net.Host("a1").NS, dnsIP)
	fmt.Printf("  ip netns exec %s curl -s http://web.shop.svc.cluster.local/   (resolv.conf of the host is not changed; use the ClusterIP)\n", d.net.Host("a1").NS)
	fmt.Printf("  ip netns exec %s curl -s http://%s/status\n", d.net.Host("a1").NS, healthAddr)
	for name, p := range d.agents {
		fmt.Printf("  agent %s log: %s\n", name, p.LogPath)
	}
}
