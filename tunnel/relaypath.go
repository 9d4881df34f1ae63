package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"github.com/quic-go/quic-go"

	"github.com/outpostmesh/outpost/tunnel/relay"
)

// relayLink is the agent's presence on one relay: a signalling session, and a TURN allocation
// with its own quic.Transport. Relayed QUIC runs between the two peers' allocations
// (my relayed address ↔ the peer's relayed address), so the relay forwards QUIC packets it
// cannot read, and the connection is verified end to end like a direct one.
type relayLink struct {
	a   *Agent
	cfg relay.ClientOptions

	mu        sync.Mutex
	client    *relay.Client
	welcome   relay.Welcome
	turn      *turn.Client
	relayConn net.PacketConn
	sock      net.PacketConn // the TURN client's socket to the relay
	tr        *quic.Transport
	relayed   *net.UDPAddr
	up        bool
}

func newRelayLink(a *Agent, rc RelayConfig) *relayLink {
	return &relayLink{a: a, cfg: relay.ClientOptions{
		Addr:         rc.Addr,
		TLSConfig:    a.relayTLS(rc.ServerName),
		Dial:         a.opts.DialTCP,
		WriteTimeout: a.opts.HandshakeTimeout,
	}}
}

// id is the relay's ID once welcomed, else its address.
func (l *relayLink) id() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.welcome.RelayID != "" {
		return l.welcome.RelayID
	}
	return l.cfg.Addr
}

func (l *relayLink) turnAddr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return ""
	}
	return l.welcome.TURNAddr
}

func (l *relayLink) send(m *relay.Message) error {
	l.mu.Lock()
	c := l.client
	l.mu.Unlock()
	if c == nil {
		return relay.ErrClosed
	}
	return c.Send(m)
}

// run keeps the link up until the agent closes, reconnecting with backoff.
func (l *relayLink) run() {
	a := l.a
	wait := a.opts.RelayRetryMin
	for a.ctx.Err() == nil {
		start := time.Now()
		err := l.session()
		if a.ctx.Err() != nil {
			return
		}
		if time.Since(start) > a.opts.RelayRetryMax {
			wait = a.opts.RelayRetryMin
		}
		a.log.Info("Relay session ended", "relay", l.cfg.Addr, "err", err, "retry", wait)
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, a.opts.RelayRetryMax)
	}
}

// session runs one signalling session with its TURN allocation until either fails.
func (l *relayLink) session() error {
	a := l.a
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.HandshakeTimeout)
	client, err := relay.Dial(ctx, l.cfg)
	cancel()
	if err != nil {
		return err
	}
	w := client.Welcome()
	// The session ends before the TURN credentials expire, so that allocations are always
	// refreshed with valid ones.
	lifetime := max(time.Until(w.Expires)*9/10, time.Minute) // a skewed clock must not spin
	sctx, scancel := context.WithTimeout(a.ctx, lifetime)
	defer scancel()

	if err := l.allocate(client, w); err != nil {
		_ = client.Close()
		return err
	}
	defer l.teardown()
	a.metrics.relayUp.WithLabelValues(w.RelayID).Set(1)
	defer a.metrics.relayUp.WithLabelValues(w.RelayID).Set(0)
	a.log.Info("Relay up", "relay", w.RelayID, "turn", w.TURNAddr, "relayed", l.relayed.String())

	ln, err := l.tr.Listen(a.serverTLS(), a.quicConfig())
	if err != nil {
		_ = client.Close()
		return fmt.Errorf("tunnel: listen on relay %s: %w", w.RelayID, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.acceptLoop(ln, pathInfo{kind: PathRelay, relay: w.RelayID}) })
	defer func() { _ = ln.Close(); wg.Wait() }()

	// Tell peers we have (again) an allocation here: wanted peers reconnect through it.
	a.goAsync(a.relaysChanged)
	return client.Run(sctx, func(m *relay.Message) { a.handleMessage(l, m) })
}

func (l *relayLink) allocate(client *relay.Client, w relay.Welcome) error {
	a := l.a
	sock, err := a.net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		return fmt.Errorf("tunnel: turn socket: %w", err)
	}
	if err := setSocketBuffers(sock, turnSocketBuffer); err != nil {
		a.log.V(1).Info("Cannot size the TURN socket's buffers", "relay", w.RelayID, "err", err)
	}
	tc, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: w.TURNAddr,
		TURNServerAddr: w.TURNAddr,
		Username:       w.Username,
		Password:       w.Password,
		Realm:          w.Realm,
		Conn:           sock,
		Net:            a.net,
		LoggerFactory:  a.pionLog,
	})
	if err != nil {
		_ = sock.Close()
		return fmt.Errorf("tunnel: turn client for %s: %w", w.RelayID, err)
	}
	if err := tc.Listen(); err != nil {
		tc.Close()
		_ = sock.Close()
		return fmt.Errorf("tunnel: turn client for %s: %w", w.RelayID, err)
	}
	rc, err := tc.Allocate()
	if err != nil {
		tc.Close()
		_ = sock.Close()
		return fmt.Errorf("tunnel: allocate on %s: %w", w.RelayID, err)
	}
	relayed, _ := rc.LocalAddr().(*net.UDPAddr)
	l.mu.Lock()
	l.client, l.welcome, l.turn, l.relayConn, l.sock = client, w, tc, rc, sock
	l.tr = &quic.Transport{Conn: rc}
	l.relayed = relayed
	l.up = relayed != nil
	l.mu.Unlock()
	return nil
}

// turnSocketBuffer is the receive and send buffer size asked for the TURN client's socket:
// every relayed packet to and from every peer crosses it, and at the usual default (~200 KiB)
// a burst from a fast QUIC sender overflows it, which QUIC takes for congestion. quic-go sizes
// its own sockets (7 MiB) but cannot reach this one (it only sees the allocation's
// PacketConn). The kernel caps the size at net.core.rmem_max / wmem_max.
const turnSocketBuffer = 4 << 20

// setSocketBuffers sets c's receive and send buffers where c allows it (a *net.UDPConn does;
// a vnet socket does not, and needs nothing).
func setSocketBuffers(c net.PacketConn, size int) error {
	var errs []error
	if s, ok := c.(interface{ SetReadBuffer(int) error }); ok {
		errs = append(errs, s.SetReadBuffer(size))
	}
	if s, ok := c.(interface{ SetWriteBuffer(int) error }); ok {
		errs = append(errs, s.SetWriteBuffer(size))
	}
	return errors.Join(errs...)
}

func (l *relayLink) teardown() {
	l.mu.Lock()
	tr, rc, tc, client, sock := l.tr, l.relayConn, l.turn, l.client, l.sock
	l.up, l.client, l.tr, l.relayConn, l.turn, l.sock = false, nil, nil, nil, nil, nil
	l.mu.Unlock()
	if client != nil {
		_ = client.Close()
	}
	if tr != nil {
		_ = tr.Close()
	}
	if rc != nil {
		_ = rc.Close()
	}
	if tc != nil {
		tc.Close()
	}
	if sock != nil {
		_ = sock.Close()
	}
}

// relayedAddr is this agent's allocation on the link, nil when down.
func (l *relayLink) relayedAddr() (string, *net.UDPAddr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return "", nil
	}
	return l.welcome.RelayID, l.relayed
}

// permit lets addr's packets into our allocation (TURN permissions are per IP; all relayed
// addresses of one relay share its IP, so this is cheap after the first peer).
func (l *relayLink) permit(addr *net.UDPAddr) error {
	l.mu.Lock()
	tc := l.turn
	l.mu.Unlock()
	if tc == nil {
		return relay.ErrClosed
	}
	return tc.CreatePermission(addr)
}

func (l *relayLink) transport() *quic.Transport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr
}

// relayAddrs are this agent's relayed addresses by relay ID, sent in every offer and answer.
func (a *Agent) relayAddrs() map[string]string {
	m := map[string]string{}
	for _, l := range a.links {
		if id, addr := l.relayedAddr(); addr != nil {
			m[id] = addr.String()
		}
	}
	return m
}

// relaysChanged reconnects wanted peers that lack a relay path once an allocation is up.
func (a *Agent) relaysChanged() {
	for _, p := range a.peerList() {
		p.mu.Lock()
		need := p.wanted && p.relay == nil && !p.closed
		p.mu.Unlock()
		if need {
			p.connect()
		}
	}
}

// permitRelays (controlled side, before answering) permits the peer's allocations.
func (p *peer) permitRelays() {
	p.mu.Lock()
	addrs := p.relayAddrs
	p.mu.Unlock()
	for _, l := range p.a.links {
		id, _ := l.relayedAddr()
		if addr := addrs[id]; addr != nil {
			if err := l.permit(addr); err != nil {
				p.a.log.V(1).Info("TURN permission", "relay", id, "peer", p.name, "err", err)
			}
		}
	}
}

// ensureRelay (controlling side) dials the peer's allocation from ours on the first relay
// where both have one, unless a relayed connection is up or being dialed.
//
// A call while a dial is in flight is not lost: that dial may have started before the peer's
// relayed addresses were known (Dial to a new peer runs ensureRelay before the answer brings
// them), so the dialer looks again with the addresses known by then.
func (p *peer) ensureRelay() {
	p.mu.Lock()
	if p.closed || p.relay != nil {
		p.mu.Unlock()
		return
	}
	if p.dialingRelay {
		p.relayAgain = true
		p.mu.Unlock()
		return
	}
	p.dialingRelay = true
	p.mu.Unlock()
	p.a.goAsync(p.dialRelays)
}

// dialRelays runs the relay dials ensureRelay asked for, one at a time.
func (p *peer) dialRelays() {
	for {
		p.mu.Lock()
		addrs := p.relayAddrs
		p.relayAgain = false
		p.mu.Unlock()
		if h := p.a.testHookDialRelay; h != nil {
			h()
		}
		ok := p.dialRelay(addrs)
		p.mu.Lock()
		if ok || !p.relayAgain || p.closed || p.relay != nil {
			p.dialingRelay = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// dialRelay tries the relays where both sides have an allocation; it reports whether a
// relayed connection was attached.
func (p *peer) dialRelay(addrs map[string]*net.UDPAddr) bool {
	a := p.a
	for _, l := range a.links {
		id, _ := l.relayedAddr()
		raddr := addrs[id]
		tr := l.transport()
		if raddr == nil || tr == nil {
			continue
		}
		if err := l.permit(raddr); err != nil {
			a.log.V(1).Info("TURN permission", "relay", id, "peer", p.name, "err", err)
			continue
		}
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.HandshakeTimeout)
		conn, err := tr.Dial(ctx, raddr, a.clientTLS(p.name), a.quicConfig())
		cancel()
		if err != nil {
			a.log.V(1).Info("Relayed QUIC dial failed", "relay", id, "peer", p.name, "err", err)
			continue
		}
		a.attach(conn, pathInfo{kind: PathRelay, relay: id})
		return true
	}
	return false
}
