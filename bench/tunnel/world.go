package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/tunnel"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

const (
	signalPort = "3479"
	turnPort   = "3478"
)

// world is the lab network with the relay and the CA; everything it starts is closed by the
// run (lab.Run.Defer), in reverse order, on exit and on SIGINT.
type world struct {
	ctx   context.Context
	run   *lab.Run
	net   *lab.Network
	ca    *pki.CA
	relay *relay.Server
	log   klog.Logger
}

// newWorld builds the lab network and starts the relay. Public hosts: "relay" runs the Outpost relay (its TURN server also serves the bare-TURN
// baseline); "plain" is the server end of the plain quic-go and TCP baselines. ("pub" is taken:
// the lab names its switch namespace so.)
func newWorld(ctx context.Context, run *lab.Run, verbose bool) (*world, error) {
	nw, err := run.NewNetwork(lab.Topology{
		Public: []string{"relay", "plain"},
		Sites: []lab.SiteSpec{
			{Name: "a", NAT: lab.EasyNAT, Hosts: 2},
			{Name: "b", NAT: lab.HardNAT, Hosts: 2},
			{Name: "c", NAT: lab.EasyNAT, Hosts: 2},
			{Name: "d", NAT: lab.HardNAT, Hosts: 2},
		},
	})
	if err != nil {
		return nil, err
	}
	ca, err := pki.NewCA("tunnel-bench", 0)
	if err != nil {
		return nil, err
	}
	log := klog.Background()
	if !verbose {
		log = log.V(10) // errors only
	}
	w := &world{ctx: ctx, run: run, net: nw, ca: ca, log: log}
	if err := w.startRelay(); err != nil {
		return nil, err
	}
	return w, nil
}

// startRelay runs the relay on the public host "relay" (as test/e2e does).
func (w *world) startRelay() error {
	h := w.net.Public["relay"]
	kp, err := w.ca.Issue(pki.CertSpec{CommonName: "relay", IPs: []net.IP{h.IP}, Server: true, Client: true})
	if err != nil {
		return err
	}
	ln, err := h.Listen("tcp4", net.JoinHostPort(h.IP.String(), signalPort))
	if err != nil {
		return err
	}
	turnConn, err := h.ListenPacket("udp4", net.JoinHostPort(h.IP.String(), turnPort))
	if err != nil {
		ln.Close()
		return err
	}
	hn, err := h.Net()
	if err != nil {
		ln.Close()
		turnConn.Close()
		return err
	}
	srv, err := relay.NewServer(relay.Options{
		ID:             "relay",
		SignalListener: ln,
		TURNConn:       turnConn,
		TURNAddr:       net.JoinHostPort(h.IP.String(), turnPort),
		PublicIP:       h.IP,
		RelayBindIP:    h.IP,
		Cert:           kp.TLSCertificate(),
		Roots:          w.ca.Pool(),
		Net:            hn,
		Logger:         w.log.WithName("relay"),
	})
	if err != nil {
		ln.Close()
		turnConn.Close()
		return err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(w.ctx) }()
	w.run.Defer("relay", func() error { srv.Close(); <-done; return nil })
	w.relay = srv
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("relay not ready after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func (w *world) signalAddr() string {
	return net.JoinHostPort(w.net.Public["relay"].IP.String(), signalPort)
}

// node is an in-process tunnel agent whose sockets live in a lab host's namespace, serving
// every stream it accepts with probe.Serve.
type node struct {
	name  string
	agent *tunnel.Agent
	stop  func()
}

// startAgent runs an agent named name on host; it is stopped by node.stop or at the run's end.
func (w *world) startAgent(host, name string) (*node, error) {
	h := w.net.Host(host)
	if h == nil {
		return nil, fmt.Errorf("no host %s", host)
	}
	kp, err := w.ca.Issue(pki.NodeSpec(name))
	if err != nil {
		return nil, err
	}
	hn, err := h.Net()
	if err != nil {
		return nil, err
	}
	a, err := tunnel.New(tunnel.Options{
		NodeName:     name,
		Cert:         kp.TLSCertificate(),
		Roots:        w.ca.Pool(),
		Net:          hn,
		DialTCP:      h.DialContext,
		PunchTimeout: 5 * time.Second,
		Relays:       []tunnel.RelayConfig{{Addr: w.signalAddr()}},
		Logger:       w.log.WithName(name),
	})
	if err != nil {
		return nil, err
	}
	if err := a.Start(w.ctx); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			s, err := a.Accept(w.ctx)
			if err != nil {
				return
			}
			wg.Go(func() { probe.Serve(s) })
		}
	})
	var once sync.Once
	n := &node{name: name, agent: a}
	n.stop = func() { once.Do(func() { a.Close(); wg.Wait() }) }
	w.run.Defer("agent "+name, func() error { n.stop(); return nil })
	return n, nil
}

// waitRelayUp waits until the node holds a TURN allocation on the relay.
func (n *node) waitRelayUp(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		rs := n.agent.Relays()
		if len(rs) > 0 && rs[0].Up {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: relay not up after %v", n.name, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// path is the agent's current path to peer.
func (n *node) path(peer string) tunnel.PathKind {
	for _, s := range n.agent.Status() {
		if s.Peer == peer {
			return s.Path
		}
	}
	return tunnel.PathNone
}

// opener dials peer and checks the stream takes the wanted path.
func (n *node) opener(peer string, want tunnel.PathKind) opener {
	return func(ctx context.Context) (stream, error) {
		s, err := n.agent.Dial(ctx, peer, []byte("bench"))
		if err != nil {
			return nil, err
		}
		if s.Path() != want {
			s.Close()
			return nil, fmt.Errorf("stream to %s took path %s, want %s", peer, s.Path(), want)
		}
		return s, nil
	}
}

// tlsPair returns server and client TLS 1.3 configurations with node certificates from the CA
// (ECDSA P-256, as the tunnel's), mutually authenticated as the tunnel's are.
func (w *world) tlsPair(server, client string) (*tls.Config, *tls.Config, error) {
	skp, err := w.ca.Issue(pki.NodeSpec(server))
	if err != nil {
		return nil, nil, err
	}
	ckp, err := w.ca.Issue(pki.NodeSpec(client))
	if err != nil {
		return nil, nil, err
	}
	st := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{skp.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    w.ca.Pool(),
		NextProtos:   []string{probe.ALPN},
	}
	ct := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{ckp.TLSCertificate()},
		RootCAs:      w.ca.Pool(),
		ServerName:   server,
		NextProtos:   []string{probe.ALPN},
	}
	return st, ct, nil
}

// quicOpener opens streams on an established QUIC connection.
func quicOpener(c *quic.Conn) opener {
	return func(ctx context.Context) (stream, error) {
		s, err := c.OpenStreamSync(ctx)
		if err != nil {
			return nil, err
		}
		return probe.QStream{Stream: s}, nil
	}
}
