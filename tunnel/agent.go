package tunnel

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/quic-go/quic-go"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

// Agent is one node's end of the peer tunnels: one UDP socket shared by QUIC and ICE, a
// signalling session and TURN allocation per relay, and at most one direct and one relayed
// QUIC connection per peer.
type Agent struct {
	opts    Options
	log     klog.Logger
	metrics *metrics
	net     transport.Net
	pionLog logging.LoggerFactory

	sock    net.PacketConn // the agent socket
	ownSock bool
	tr      *quic.Transport
	ln      *quic.Listener
	stun    *stunConn
	mux     *ice.UniversalUDPMuxDefault
	links   []*relayLink
	lan     *lan

	acceptCh chan Stream
	dgramCh  chan Datagram
	seen     *dedupe

	ctx    context.Context // lives until Close
	cancel context.CancelFunc

	// dialRekicks counts Dial's one-second fallback (asking the peer again): on a working
	// relay a new peer never needs it, so tests assert it stays 0.
	dialRekicks atomic.Int64
	// testHookDialRelay, if set, runs in every relay dial attempt between reading the peer's
	// relayed addresses and dialing them (tests widen the race with the answer).
	testHookDialRelay func()

	mu      sync.Mutex
	started bool
	closed  bool
	peers   map[string]*peer
	wg      sync.WaitGroup
}

// New checks opts and creates an agent; Start opens its sockets.
func New(opts Options) (*Agent, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(opts.Cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tunnel: new: parse own certificate: %w", err)
	}
	if name, err := pki.NodeName(leaf); err != nil || name != opts.NodeName {
		return nil, fmt.Errorf("tunnel: new: certificate names %q, not node %q: %w", leaf.Subject.CommonName, opts.NodeName, ErrPeerIdentity)
	}
	a := &Agent{
		opts:     opts,
		log:      opts.Logger.WithValues("node", opts.NodeName),
		acceptCh: make(chan Stream, opts.AcceptQueue),
		dgramCh:  make(chan Datagram, opts.DatagramQueue),
		peers:    map[string]*peer{},
		seen:     newDedupe(4096),
	}
	a.pionLog = relay.NewPionLoggerFactory(a.log)
	a.net = opts.Net
	if a.net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("tunnel: new: %w", err)
		}
		a.net = n
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.metrics = newMetrics(opts.Registerer, a)
	return a, nil
}

// Start opens the agent socket and starts relay sessions, LAN discovery and the accept loop.
// ctx bounds only the start; the agent runs until Close.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if a.started {
		return errors.New("tunnel: agent already started")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a.sock = a.opts.PacketConn
	if a.sock == nil {
		s, err := a.net.ListenPacket("udp4", a.opts.ListenAddr)
		if err != nil {
			return fmt.Errorf("tunnel: listen %s: %w", a.opts.ListenAddr, err)
		}
		a.sock, a.ownSock = s, true
	}
	a.tr = &quic.Transport{Conn: a.sock}
	ln, err := a.tr.Listen(a.serverTLS(), a.quicConfig())
	if err != nil {
		a.closeSocket()
		return fmt.Errorf("tunnel: listen quic: %w", err)
	}
	a.ln = ln
	a.stun = newSTUNConn(a.tr, a.sock.LocalAddr())
	a.mux = ice.NewUniversalUDPMuxDefault(ice.UniversalUDPMuxParams{
		UDPConn: a.stun,
		Net:     a.net,
		Logger:  quietMuxLogger{a.pionLog.NewLogger("udpmux")}, // see muxWarning
	})
	a.stun.open()
	if a.opts.LAN != nil {
		l, err := a.newLAN()
		if err != nil {
			_ = a.mux.Close()
			_ = a.ln.Close()
			_ = a.tr.Close()
			a.closeSocket()
			return err
		}
		a.lan = l
	}
	a.started = true
	a.goLocked(func() { a.acceptLoop(a.ln, pathInfo{kind: PathDirect}) })
	for _, rc := range a.opts.Relays {
		l := newRelayLink(a, rc)
		a.links = append(a.links, l)
		a.goLocked(l.run)
	}
	if a.lan != nil {
		a.goLocked(a.lan.run)
	}
	a.log.Info("Tunnel agent started", "addr", a.sock.LocalAddr().String(), "relays", len(a.opts.Relays))
	return nil
}

// LocalAddr is the agent socket's address (after Start).
func (a *Agent) LocalAddr() net.Addr {
	if a.sock == nil {
		return nil
	}
	return a.sock.LocalAddr()
}

// NodeName is the agent's node.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// Close closes every connection (telling peers), relay session and socket, and waits for the
// agent's goroutines.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	peers := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		peers = append(peers, p)
	}
	started := a.started
	a.mu.Unlock()

	for _, p := range peers {
		p.close()
	}
	a.cancel()
	if started {
		_ = a.ln.Close()
		if a.lan != nil {
			a.lan.close()
		}
		_ = a.mux.Close()
		_ = a.tr.Close()
		a.closeSocket()
	}
	a.wg.Wait()
	for _, p := range peers {
		p.closePunch()
	}
	return nil
}

func (a *Agent) closeSocket() {
	if a.ownSock {
		_ = a.sock.Close()
	}
}

// goAsync runs f on a goroutine the agent waits for on Close; it does nothing after Close.
func (a *Agent) goAsync(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.goLocked(f)
}

func (a *Agent) goLocked(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

func (a *Agent) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  a.opts.HandshakeTimeout,
		MaxIdleTimeout:        a.opts.IdleTimeout,
		KeepAlivePeriod:       a.opts.KeepAlivePeriod,
		MaxIncomingStreams:    a.opts.MaxStreamsPerPeer,
		MaxIncomingUniStreams: -1,
		EnableDatagrams:       true,
	}
}

// acceptLoop takes QUIC connections from a listener (the agent socket's or a relay
// allocation's) and attaches them to their peer by the verified certificate.
func (a *Agent) acceptLoop(ln *quic.Listener, path pathInfo) {
	for {
		conn, err := ln.Accept(a.ctx)
		if err != nil {
			return
		}
		a.attach(conn, path)
	}
}

// attach makes conn a path to the peer its certificate names and starts serving it.
func (a *Agent) attach(conn *quic.Conn, path pathInfo) {
	name, err := peerName(conn.ConnectionState().TLS)
	if err != nil {
		_ = conn.CloseWithError(errCodeIdentity, "identity")
		return
	}
	p := a.peer(name)
	if p == nil {
		_ = conn.CloseWithError(errCodeClosing, "closing")
		return
	}
	pc := p.attach(conn, path)
	if pc == nil {
		return
	}
	a.goAsync(func() { a.acceptStreams(p, pc) })
	a.goAsync(func() { a.readDatagrams(p, pc) })
	a.goAsync(func() { a.watchPath(p, pc) })
	a.goAsync(func() {
		<-conn.Context().Done()
		p.detach(pc)
	})
}

// peer returns the state of node name, creating it; nil after Close.
func (a *Agent) peer(name string) *peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	p := a.peers[name]
	if p == nil {
		p = newPeer(a, name)
		a.peers[name] = p
	}
	return p
}

func (a *Agent) existingPeer(name string) *peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.peers[name]
}

func (a *Agent) peerList() []*peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps := make([]*peer, 0, len(a.peers))
	for _, p := range a.peers {
		ps = append(ps, p)
	}
	return ps
}

// QUIC application error codes.
const (
	errCodeClosing  quic.ApplicationErrorCode = 0
	errCodeIdentity quic.ApplicationErrorCode = 1
	errCodeReplaced quic.ApplicationErrorCode = 2
	errCodeDeadPath quic.ApplicationErrorCode = 3
)
