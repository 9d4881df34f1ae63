//go:build integration

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

// tunnelLab is a lab network with relays and in-process tunnel agents whose sockets live in
// the hosts' namespaces.
type tunnelLab struct {
	t      *testing.T
	run    *lab.Run
	net    *lab.Network
	ca     *pki.CA
	relays map[string]*relay.Server
	agents map[string]*tunnel.Agent
	ctx    context.Context
}

const (
	signalPort = "3479"
	turnPort   = "3478"
)

func newTunnelLab(t *testing.T, topo lab.Topology) *tunnelLab {
	t.Helper()
	run := lab.ForTest(t)
	nw, err := run.NewNetwork(topo)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("tunnel-lab", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &tunnelLab{t: t, run: run, net: nw, ca: ca, relays: map[string]*relay.Server{}, agents: map[string]*tunnel.Agent{}, ctx: ctx}
}

// startRelay runs a relay on public host name.
func (l *tunnelLab) startRelay(name string) *relay.Server {
	t := l.t
	h := l.net.Public[name]
	kp, err := l.ca.Issue(pki.CertSpec{CommonName: "relay-" + name, IPs: []net.IP{h.IP}, Server: true, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := h.Listen("tcp4", net.JoinHostPort(h.IP.String(), signalPort))
	if err != nil {
		t.Fatal(err)
	}
	turnConn, err := h.ListenPacket("udp4", net.JoinHostPort(h.IP.String(), turnPort))
	if err != nil {
		t.Fatal(err)
	}
	hn, err := h.Net()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := relay.NewServer(relay.Options{
		ID:             name,
		SignalListener: ln,
		TURNConn:       turnConn,
		TURNAddr:       net.JoinHostPort(h.IP.String(), turnPort),
		PublicIP:       h.IP,
		RelayBindIP:    h.IP,
		Cert:           kp.TLSCertificate(),
		Roots:          l.ca.Pool(),
		Net:            hn,
		Logger:         klog.Background().WithName(name),
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l.ctx) }()
	t.Cleanup(func() { srv.Close(); <-done })
	l.relays[name] = srv
	return srv
}

// agentOpts are the options of an agent on host h with identity kp.
func (l *tunnelLab) agentOpts(h *lab.Host, kp *pki.KeyPair, relays ...string) tunnel.Options {
	hn, err := h.Net()
	if err != nil {
		l.t.Fatal(err)
	}
	o := tunnel.Options{
		NodeName:     h.Name,
		Cert:         kp.TLSCertificate(),
		Roots:        l.ca.Pool(),
		Net:          hn,
		DialTCP:      h.DialContext,
		PunchTimeout: 5 * time.Second,
		LAN:          &tunnel.LANOptions{Interval: time.Second},
		Logger:       klog.Background().WithName(h.Name),
	}
	for _, r := range relays {
		o.Relays = append(o.Relays, tunnel.RelayConfig{Addr: net.JoinHostPort(l.net.Public[r].IP.String(), signalPort)})
	}
	return o
}

// startAgent runs an agent on host name that echoes every stream it accepts.
func (l *tunnelLab) startAgent(name string, relays ...string) *tunnel.Agent {
	t := l.t
	h := l.net.Host(name)
	kp, err := l.ca.Issue(pki.NodeSpec(name))
	if err != nil {
		t.Fatal(err)
	}
	return l.startAgentWith(l.agentOpts(h, kp, relays...))
}

func (l *tunnelLab) startAgentWith(o tunnel.Options) *tunnel.Agent {
	t := l.t
	a, err := tunnel.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(l.ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s, err := a.Accept(l.ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.Close()
				_, _ = io.Copy(s, s)
				_ = s.CloseWrite()
			}()
		}
	}()
	t.Cleanup(func() { a.Close(); wg.Wait() })
	l.agents[o.NodeName] = a
	return a
}

// echo opens a stream from a to peer, sends n bytes, half-closes and checks the echo.
func echo(ctx context.Context, a *tunnel.Agent, peer string, n int) (time.Duration, error) {
	start := time.Now()
	s, err := a.Dial(ctx, peer, []byte("echo"))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(d)
	}
	msg := make([]byte, n)
	for i := range msg {
		msg[i] = byte(i)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Write(msg)
		if err == nil {
			err = s.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		return 0, err
	}
	if err := <-errc; err != nil {
		return 0, err
	}
	if len(got) != n {
		return 0, fmt.Errorf("echo returned %d of %d bytes", len(got), n)
	}
	for i := range got {
		if got[i] != byte(i) {
			return 0, fmt.Errorf("echo corrupted at byte %d", i)
		}
	}
	return time.Since(start), nil
}

func statusOf(a *tunnel.Agent, peer string) tunnel.PeerStatus {
	for _, s := range a.Status() {
		if s.Peer == peer {
			return s
		}
	}
	return tunnel.PeerStatus{Path: tunnel.PathNone}
}

// waitPath polls until a's path to peer is want, for at most d.
func waitPath(a *tunnel.Agent, peer string, want tunnel.PathKind, d time.Duration) tunnel.PeerStatus {
	deadline := time.Now().Add(d)
	for {
		st := statusOf(a, peer)
		if st.Path == want || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func tlsClient(ca *pki.CA, kp *pki.KeyPair, serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{kp.TLSCertificate()}, ServerName: serverName}
}
