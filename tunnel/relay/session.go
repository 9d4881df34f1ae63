package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"

	"github.com/outpostmesh/outpost/pki"
)

// session is one authenticated agent's signalling connection.
type session struct {
	node    string
	limiter *rate.Limiter
	conn    *tls.Conn
	wmu     sync.Mutex
	once    sync.Once
}

func (ss *session) close() { ss.once.Do(func() { _ = ss.conn.Close() }) }

func (ss *session) send(m *Message, timeout time.Duration, maxSize int) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.conn.SetWriteDeadline(time.Now().Add(timeout))
	return WriteFrame(ss.conn, m, maxSize)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	log := s.opts.Logger.WithValues("remote", c.RemoteAddr().String())
	tc := tls.Server(c, s.tlsConfig())
	hctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		s.metrics.handshakes.WithLabelValues("tls").Inc()
		log.V(1).Info("Signalling handshake failed", "err", err)
		_ = tc.Close()
		return
	}
	node, err := pki.VerifyNode(tc.ConnectionState().PeerCertificates[0], nil, s.opts.Roots, "")
	if err != nil {
		s.metrics.handshakes.WithLabelValues("unauthenticated").Inc()
		log.Info("Refusing signalling session", "err", fmt.Errorf("%w: %w", ErrUnauthenticated, err))
		_ = tc.Close()
		return
	}
	s.metrics.handshakes.WithLabelValues("ok").Inc()
	log = log.WithValues("node", node)
	ss := &session{node: node, conn: tc, limiter: rate.NewLimiter(rate.Limit(s.opts.SignalRate), s.opts.SignalBurst)}

	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(string(s.opts.TURNSecret), node, s.opts.CredentialTTL)
	if err != nil {
		log.Error(err, "Generating TURN credentials")
		ss.close()
		return
	}
	s.metrics.credentialsOK.Inc()
	welcome := &Message{Type: TypeWelcome, Welcome: &Welcome{
		RelayID: s.opts.ID, Node: node, TURNAddr: s.turnAddr,
		Username: user, Password: pass, Realm: s.opts.Realm,
		Expires: time.Now().Add(s.opts.CredentialTTL),
	}}
	// Register before the welcome, so that a node holding its welcome is reachable (a peer
	// that signals it at once never gets "peer offline"), and hold the write lock meanwhile,
	// so that nothing forwarded to it goes out before the welcome.
	ss.wmu.Lock()
	if !s.register(ss) {
		ss.wmu.Unlock()
		ss.close()
		return
	}
	_ = ss.conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	err = WriteFrame(ss.conn, welcome, s.opts.MaxFrameSize)
	ss.wmu.Unlock()
	if err != nil {
		log.V(1).Info("Sending welcome", "err", err)
		s.unregister(ss)
		ss.close()
		return
	}
	s.metrics.sessions.Inc()
	log.V(1).Info("Signalling session up")
	err = s.readLoop(ss)
	s.unregister(ss)
	s.metrics.sessions.Dec()
	ss.close()
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		s.metrics.frameErrors.WithLabelValues("too_large").Inc()
		log.Info("Closing signalling session", "err", err)
	case errors.Is(err, ErrMalformedFrame):
		s.metrics.frameErrors.WithLabelValues("malformed").Inc()
		log.Info("Closing signalling session", "err", err)
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		log.V(1).Info("Signalling session closed")
	default:
		log.V(1).Info("Signalling session ended", "err", err)
	}
}

// register makes ss the session of its node, closing an older one (the agent reconnected).
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if old := s.sessions[ss.node]; old != nil {
		old.close()
	}
	s.sessions[ss.node] = ss
	return true
}

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.node] == ss {
		delete(s.sessions, ss.node)
	}
}

func (s *Server) lookup(node string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[node]
}

func (s *Server) readLoop(ss *session) error {
	for {
		_ = ss.conn.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		m, err := ReadFrame(ss.conn, s.opts.MaxFrameSize)
		if err != nil {
			if errors.Is(err, ErrFrameTooLarge) || errors.Is(err, ErrMalformedFrame) {
				// Best effort: tell the agent why before closing.
				_ = ss.send(&Message{Type: TypeError, Error: err.Error()}, time.Second, s.opts.MaxFrameSize)
			}
			return err
		}
		switch m.Type {
		case TypePing:
			err = ss.send(&Message{Type: TypePong}, s.opts.WriteTimeout, s.opts.MaxFrameSize)
		case TypePong:
		case TypeSignal:
			if !ss.limiter.Allow() {
				s.metrics.signals.WithLabelValues("rate_limited").Inc()
				err = ss.send(&Message{Type: TypeError, ID: m.ID, To: m.To, Error: ErrRateLimited.Error()},
					s.opts.WriteTimeout, s.opts.MaxFrameSize)
				break
			}
			err = s.forward(ss, m)
		default:
			err = fmt.Errorf("%w: agents may not send %q", ErrMalformedFrame, m.Type)
			_ = ss.send(&Message{Type: TypeError, Error: err.Error()}, time.Second, s.opts.MaxFrameSize)
		}
		if err != nil {
			return err
		}
	}
}

// forward delivers a signal to its addressee, stamping the authenticated sender.
func (s *Server) forward(from *session, m *Message) error {
	m.From = from.node
	to := s.lookup(m.To)
	if to != nil {
		if err := to.send(m, s.opts.WriteTimeout, s.opts.MaxFrameSize); err == nil {
			s.metrics.signals.WithLabelValues("delivered").Inc()
			return nil
		}
		// The addressee's session is broken: its own read loop will notice and clean up.
		to.close()
	}
	s.metrics.signals.WithLabelValues("offline").Inc()
	return from.send(&Message{Type: TypeError, ID: m.ID, To: m.To, Error: ErrPeerOffline.Error()},
		s.opts.WriteTimeout, s.opts.MaxFrameSize)
}
