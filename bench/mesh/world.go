package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/test/meshlab"
	"github.com/outpostmesh/outpost/tunnel"
)

// Ports of the servers this benchmark runs inside lab hosts.
const (
	sinkPort    = 5201             // TCP sink/echo/request server on every endpoint host
	hopAddr     = "127.0.0.1:7001" // the minimal proxy (bench/mesh/hop) on a1
	servicePort = 80               // the Services' port (ClusterIP:80 → endpoint:sinkPort)
	quicPort    = 4433             // the plain quic-go server on the public "relay" host
)

// world is the running mesh lab plus this benchmark's servers.
type world struct {
	m     *meshlab.Mesh
	hop   *lab.Process
	sinks []*sinkServer
	// clusterIP of each benchmark Service by endpoint host.
	clusterIP map[string]string
}

// endpointHosts are the hosts with a sink server, each the only endpoint of one Service:
// a2 (same site as the client a1), b1 (site b, hard NAT: relay path), c1 (site c, easy NAT:
// direct QUIC path).
var endpointHosts = []string{"a2", "b1", "c1"}

// agentHosts run edgemesh-agent: the client's node and the endpoints' nodes in other sites
// (a2's agent is not involved in a same-site call: a1's agent dials a2 directly).
var agentHosts = []string{"a1", "b1", "c1"}

// newWorld builds the agents, starts the mesh lab with sites a (easy NAT, 2 hosts), b (hard
// NAT) and c (easy NAT), a sink server and a Service per endpoint host, and the agents.
func newWorld(ctx context.Context, r *lab.Run, logf func(string, ...any)) (*world, error) {
	bin := filepath.Join(r.Dir, "bin")
	t0 := time.Now()
	if err := meshlab.Build(bin); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "build", "-o", bin+"/", "./bench/mesh/hop")
	cmd.Dir = lab.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build bench/mesh/hop: %w\n%s", err, out)
	}
	logf("built edgemesh-agent, outpost-relay, demopod, hop in %v", time.Since(t0).Round(time.Millisecond))
	m, err := meshlab.Start(ctx, r, meshlab.Options{Bin: bin, Sites: []lab.SiteSpec{
		{Name: "a", NAT: lab.EasyNAT, Hosts: 2},
		{Name: "b", NAT: lab.HardNAT, Hosts: 1},
		{Name: "c", NAT: lab.EasyNAT, Hosts: 1},
	}})
	if err != nil {
		return nil, err
	}
	w := &world{m: m, clusterIP: map[string]string{}}
	r.Defer("sink servers", func() error {
		for _, s := range w.sinks {
			s.close()
		}
		return nil
	})
	for _, h := range endpointHosts {
		host := m.Net.Host(h)
		ln, err := host.Listen("tcp4", net.JoinHostPort(host.IP.String(), strconv.Itoa(sinkPort)))
		if err != nil {
			return nil, err
		}
		w.sinks = append(w.sinks, newSinkServer(ln))
		ip, err := m.AddService(ctx, meshlab.Service{Namespace: "bench", Name: "sink-" + h,
			Protocol: corev1.ProtocolTCP, Port: servicePort, PodPort: sinkPort, Endpoints: []string{h}})
		if err != nil {
			return nil, err
		}
		w.clusterIP[h] = ip
	}
	// The same endpoint once more, with the kernel fast path turned off: the proxy's own cost.
	ip, err := m.AddService(ctx, meshlab.Service{Namespace: "bench", Name: "sink-a2-proxy",
		Protocol: corev1.ProtocolTCP, Port: servicePort, PodPort: sinkPort, Endpoints: []string{"a2"},
		Annotations: map[string]string{view.FastPathAnnotation: "false"}})
	if err != nil {
		return nil, err
	}
	w.clusterIP["a2-proxy"] = ip
	for _, h := range agentHosts {
		if err := m.StartAgent(ctx, h, true); err != nil {
			return nil, err
		}
	}
	if w.hop, err = r.Start(m.Net.Host("a1"), "hop", []string{filepath.Join(bin, "hop"),
		"-listen=" + hopAddr, "-to=" + w.directAddr("a2")}, lab.ProcOptions{Quiet: true}); err != nil {
		return nil, err
	}
	return w, nil
}

// tcpOpener dials addr from inside host h.
func tcpOpener(h *lab.Host, addr string) opener {
	return func(ctx context.Context) (stream, error) {
		c, err := h.DialContext(ctx, "tcp4", addr)
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
}

// proxiedAddr is the ClusterIP:port of a2's Service with the fast path turned off.
func (w *world) proxiedAddr() string {
	return net.JoinHostPort(w.clusterIP["a2-proxy"], strconv.Itoa(servicePort))
}

// serviceAddr is the ClusterIP:port of the Service whose endpoint is on host.
func (w *world) serviceAddr(host string) string {
	return net.JoinHostPort(w.clusterIP[host], strconv.Itoa(servicePort))
}

// directAddr is host's own sink address.
func (w *world) directAddr(host string) string {
	return net.JoinHostPort(w.m.Net.Host(host).IP.String(), strconv.Itoa(sinkPort))
}

// warmUp makes one request from a1 to addr until it answers (the first call across sites
// opens the tunnel; the hop may still be starting), at most 30 s.
func (w *world) warmUp(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if last = request(ctx, w.m.Net.Host("a1"), addr); last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within 30 s: %w", addr, last)
}

// request is one connect + request/response + close from host h.
func request(ctx context.Context, h *lab.Host, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	req := make([]byte, 1+probe.ReqSize)
	req[0] = probe.ModeRequest
	if _, err := c.Write(req); err != nil {
		return err
	}
	_, err = io.ReadFull(c, req[:probe.ReqSize])
	return err
}

// peerPath is the path a1's agent uses to peer, as its /status says.
func (w *world) peerPath(peer string) (tunnel.PeerStatus, bool) {
	st, err := w.m.Status("a1")
	if err != nil {
		return tunnel.PeerStatus{}, false
	}
	for _, p := range st.Peers {
		if p.Peer == peer {
			return p, true
		}
	}
	return tunnel.PeerStatus{}, false
}

// waitPath waits until a1's agent reaches peer by path want, at most limit; it returns the
// path it saw last.
func (w *world) waitPath(ctx context.Context, peer string, want tunnel.PathKind, limit time.Duration) tunnel.PathKind {
	deadline := time.Now().Add(limit)
	var got tunnel.PathKind = tunnel.PathNone
	for {
		if p, ok := w.peerPath(peer); ok {
			got = p.Path
		}
		if got == want || time.Now().After(deadline) || ctx.Err() != nil {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// quicCeiling is the cross-site ceiling: quic-go owning a plain UDP socket at each end, the
// server on the public "relay" host, the client on a1 (one NAT; outbound needs no punching),
// with tunnel.Agent's QUIC configuration. Both ends run in this process.
func (w *world) quicCeiling(ctx context.Context) (open opener, closeFn func(), err error) {
	srvHost, cliHost := w.m.Net.Public["relay"], w.m.Net.Host("a1")
	st, ct, err := tlsPair(w.m.CP.CA, "plain", "a1")
	if err != nil {
		return nil, nil, err
	}
	sconn, err := srvHost.ListenPacket("udp4", net.JoinHostPort(srvHost.IP.String(), strconv.Itoa(quicPort)))
	if err != nil {
		return nil, nil, err
	}
	cconn, err := cliHost.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		sconn.Close()
		return nil, nil, err
	}
	str, ctr := &quic.Transport{Conn: sconn}, &quic.Transport{Conn: cconn}
	var wg sync.WaitGroup
	sctx, cancel := context.WithCancel(ctx)
	teardown := func() {
		cancel()
		_ = ctr.Close()
		_ = str.Close()
		cconn.Close()
		sconn.Close()
		wg.Wait()
	}
	ln, err := str.Listen(st, probe.QUICConfig())
	if err != nil {
		teardown()
		return nil, nil, err
	}
	probe.ServeQUIC(sctx, ln, &wg, probe.Serve)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := ctr.Dial(dctx, sconn.LocalAddr(), ct, probe.QUICConfig())
	dcancel()
	if err != nil {
		_ = ln.Close()
		teardown()
		return nil, nil, fmt.Errorf("plain quic dial: %w", err)
	}
	open = func(ctx context.Context) (stream, error) {
		s, err := c.OpenStreamSync(ctx)
		if err != nil {
			return nil, err
		}
		return probe.QStream{Stream: s}, nil
	}
	return open, func() {
		_ = c.CloseWithError(0, "")
		_ = ln.Close()
		teardown()
	}, nil
}

// tlsPair returns mutually authenticated TLS 1.3 configurations with node certificates
// (ECDSA P-256, as the tunnel's) from the lab's CA.
func tlsPair(ca *pki.CA, server, client string) (*tls.Config, *tls.Config, error) {
	skp, err := ca.Issue(pki.NodeSpec(server))
	if err != nil {
		return nil, nil, err
	}
	ckp, err := ca.Issue(pki.NodeSpec(client))
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{skp.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			NextProtos:   []string{probe.ALPN},
		}, &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{ckp.TLSCertificate()},
			RootCAs:      ca.Pool(),
			ServerName:   server,
			NextProtos:   []string{probe.ALPN},
		}, nil
}
