package tunnel

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// pathInfo says how a QUIC connection reaches its peer.
type pathInfo struct {
	kind       PathKind
	relay      string // relay ID for PathRelay
	localCand  string // ICE candidate types for PathDirect ("host", "srflx", "prflx"; "lan")
	remoteCand string
}

// pconn is one QUIC connection to a peer.
type pconn struct {
	conn  *quic.Conn
	path  pathInfo
	since time.Time
}

// peer is what the agent knows about one other node. Its conns are at most one direct and one
// relayed QUIC connection; new streams use the direct one when it is up.
//
// Roles: the node with the smaller name is "controlling": it sends ICE offers, is ICE's
// controlling agent and dials both QUIC connections; the other node asks for a connection with
// a "request" signal. One dialer per pair means no glare and no duplicate connections.
type peer struct {
	a           *Agent
	name        string
	controlling bool

	mu         sync.Mutex
	direct     *pconn
	relay      *pconn
	spares     []*pconn      // controlled side: replaced connections the dialer has not closed yet
	changed    chan struct{} // closed and replaced whenever direct or relay change
	lastChange time.Time
	lastPath   PathKind
	wanted     bool // a local Dial asked for this peer: reconnect when connections drop
	closed     bool

	relayAddrs   map[string]*net.UDPAddr // the peer's TURN allocations by relay ID
	dialingRelay bool
	relayAgain   bool // ensureRelay was called during a relay dial: look again after it
	dialingLAN   bool
	lanAddr      *net.UDPAddr
	lastICE      pathInfo // candidate types of the last successful ICE, for accepted conns

	punch       *punchSession
	unanswered  int           // offers in a row the peer did not answer
	punchWait   time.Duration // current backoff
	retry       *time.Timer
	lastRequest time.Time
	pending     map[string][]string // candidates that arrived before their session's offer
}

func newPeer(a *Agent, name string) *peer {
	return &peer{
		a:           a,
		name:        name,
		controlling: a.opts.NodeName < name,
		changed:     make(chan struct{}),
		relayAddrs:  map[string]*net.UDPAddr{},
		pending:     map[string][]string{},
		lastPath:    PathNone,
	}
}

// best returns the connection new streams should use (nil if none) and a channel that is
// closed when that may change.
func (p *peer) best() (*pconn, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.direct != nil {
		return p.direct, p.changed
	}
	return p.relay, p.changed
}

// attach records a new connection; an older one on the same kind of path is closed (the peer
// reconnected; its streams on the old connection are already dead or will be soon).
func (p *peer) attach(conn *quic.Conn, path pathInfo) *pconn {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = conn.CloseWithError(errCodeClosing, "closing")
		return nil
	}
	if path.kind == PathDirect && path.localCand == "" {
		path.localCand, path.remoteCand = p.lastICE.localCand, p.lastICE.remoteCand
		if path.localCand == "" {
			path.localCand, path.remoteCand = "host", "host"
		}
	}
	pc := &pconn{conn: conn, path: path, since: time.Now()}
	var old *pconn
	if path.kind == PathDirect {
		old, p.direct = p.direct, pc
		p.punchWait = 0
		if p.retry != nil {
			p.retry.Stop()
		}
	} else {
		old, p.relay = p.relay, pc
	}
	// The dialer (controlling side) closes the connection it replaced. The other side keeps
	// it as a spare until it closes: connections may be accepted in another order than they
	// were dialed, and the one the dialer keeps must survive here.
	if old != nil && !p.controlling {
		p.spares = append(p.spares, old)
		old = nil
	}
	p.changedLocked()
	p.mu.Unlock()
	if old != nil {
		_ = old.conn.CloseWithError(errCodeReplaced, "replaced")
	}
	p.a.log.V(1).Info("Peer connection up", "peer", p.name, "path", path.kind, "relay", path.relay,
		"remote", conn.RemoteAddr().String(), "local", path.localCand, "remoteCand", path.remoteCand)
	if path.kind == PathDirect {
		p.closePunchLater()
	}
	return pc
}

// detach forgets a closed connection and decides how to get a path back.
func (p *peer) detach(pc *pconn) {
	p.mu.Lock()
	for i, sp := range p.spares {
		if sp == pc {
			p.spares = append(p.spares[:i], p.spares[i+1:]...)
			p.mu.Unlock()
			return
		}
	}
	switch pc {
	case p.direct:
		p.direct = p.takeSpareLocked(PathDirect)
	case p.relay:
		p.relay = p.takeSpareLocked(PathRelay)
	default:
		p.mu.Unlock()
		return
	}
	p.changedLocked()
	remaining := p.direct != nil || p.relay != nil
	wanted, closed := p.wanted, p.closed
	p.mu.Unlock()

	err := context.Cause(pc.conn.Context())
	var appErr *quic.ApplicationError
	peerLeft := errors.As(err, &appErr) && appErr.Remote && appErr.ErrorCode == errCodeClosing
	p.a.log.V(1).Info("Peer connection down", "peer", p.name, "path", pc.path.kind, "relay", pc.path.relay, "err", err)
	if closed {
		return
	}
	if peerLeft {
		// The peer agent shut down: its session and allocations are gone with it. Forget
		// them so that a later Dial starts afresh (a restarted peer has new ones).
		p.mu.Lock()
		s := p.punch
		p.punch = nil
		if !remaining {
			p.relayAddrs = map[string]*net.UDPAddr{}
		}
		p.mu.Unlock()
		if s != nil {
			s.close()
		}
		return
	}
	if pc.path.kind == PathDirect && !p.a.opts.DisableDirect {
		// Fall back to the relay (if up) and punch again with backoff.
		p.schedulePunch()
	}
	if !remaining && wanted {
		p.connect()
	} else if pc.path.kind == PathRelay && wanted {
		p.connect()
	}
}

// takeSpareLocked removes and returns the newest live spare of kind, if any; p.mu is held.
func (p *peer) takeSpareLocked(kind PathKind) *pconn {
	for i := len(p.spares) - 1; i >= 0; i-- {
		sp := p.spares[i]
		if sp.path.kind == kind && sp.conn.Context().Err() == nil {
			p.spares = append(p.spares[:i], p.spares[i+1:]...)
			return sp
		}
	}
	return nil
}

// changedLocked wakes waiters and notes path changes; p.mu is held.
func (p *peer) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
	now := PathNone
	if p.direct != nil {
		now = PathDirect
	} else if p.relay != nil {
		now = PathRelay
	}
	if now != p.lastPath {
		p.lastPath = now
		p.lastChange = time.Now()
		p.a.metrics.paths.WithLabelValues(string(now)).Inc()
	}
}

// connect starts getting a path to the peer: offers (controlling) or a request (controlled),
// plus a direct dial if the peer was heard on the LAN. It is idempotent and cheap.
func (p *peer) connect() { p.connectPolicy(keepSession) }

func (p *peer) connectPolicy(policy int) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	lanAddr := p.lanAddr
	hasDirect := p.direct != nil
	p.mu.Unlock()
	if lanAddr != nil && !hasDirect && p.controlling {
		p.dialLAN(lanAddr)
	}
	if p.controlling {
		// Known relayed addresses need no new exchange (relay failover); a session also
		// refreshes them and punches if there is no direct path.
		p.ensureRelay()
		p.startSession(policy)
		return
	}
	p.mu.Lock()
	if time.Since(p.lastRequest) < 500*time.Millisecond {
		p.mu.Unlock()
		return
	}
	p.lastRequest = time.Now()
	p.mu.Unlock()
	_ = p.a.sendSignal(p.name, &signal{Kind: kindRequest, Relays: p.a.relayAddrs()})
}

// close closes the peer's connections, telling the peer we are leaving.
func (p *peer) close() {
	p.mu.Lock()
	p.closed = true
	if p.retry != nil {
		p.retry.Stop()
	}
	conns := append([]*pconn{p.direct, p.relay}, p.spares...)
	p.mu.Unlock()
	for _, pc := range conns {
		if pc != nil {
			_ = pc.conn.CloseWithError(errCodeClosing, "agent closing")
		}
	}
}
