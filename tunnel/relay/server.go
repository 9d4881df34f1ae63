package relay

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/turn/v5"
)

// Server is a relay: STUN/TURN on one UDP socket plus the signalling listener.
type Server struct {
	opts     Options
	ln       net.Listener
	udp      net.PacketConn
	turnAddr string // public "ip:port" handed to agents
	metrics  *metrics
	turn     atomic.Pointer[turn.Server]
	ready    atomic.Bool

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup
}

// NewServer opens the relay's sockets (so their addresses are known at once); Serve serves them.
func NewServer(opts Options) (*Server, error) {
	opts.setDefaults()
	if opts.Roots == nil || len(opts.Cert.Certificate) == 0 {
		return nil, errors.New("relay: new server: Roots and Cert are required")
	}
	if opts.Net == nil {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, fmt.Errorf("relay: new server: %w", err)
		}
		opts.Net = n
	}
	if len(opts.TURNSecret) == 0 {
		opts.TURNSecret = make([]byte, 32)
		_, _ = rand.Read(opts.TURNSecret)
	}
	s := &Server{opts: opts, sessions: map[string]*session{}}
	s.udp = opts.TURNConn
	if s.udp == nil {
		udp, err := opts.Net.ListenPacket("udp4", opts.TURNAddr)
		if err != nil {
			return nil, fmt.Errorf("relay: listen turn %s: %w", opts.TURNAddr, err)
		}
		s.udp = udp
	}
	local, _ := s.udp.LocalAddr().(*net.UDPAddr)
	if local == nil {
		_ = s.udp.Close()
		return nil, fmt.Errorf("relay: turn socket address %v is not UDP", s.udp.LocalAddr())
	}
	if s.opts.RelayBindIP == nil {
		s.opts.RelayBindIP = net.IPv4zero
		if !local.IP.IsUnspecified() {
			s.opts.RelayBindIP = local.IP
		}
	}
	if s.opts.PublicIP == nil {
		if local.IP.IsUnspecified() {
			_ = s.udp.Close()
			return nil, errors.New("relay: new server: PublicIP is required when TURN listens on an unspecified address")
		}
		s.opts.PublicIP = local.IP
	}
	s.turnAddr = net.JoinHostPort(s.opts.PublicIP.String(), strconv.Itoa(local.Port))
	if s.opts.ID == "" {
		s.opts.ID = s.turnAddr
	}
	s.ln = opts.SignalListener
	if s.ln == nil {
		ln, err := net.Listen("tcp", opts.SignalAddr)
		if err != nil {
			_ = s.udp.Close()
			return nil, fmt.Errorf("relay: listen signalling %s: %w", opts.SignalAddr, err)
		}
		s.ln = ln
	}
	s.metrics = newMetrics(opts.Registerer, func() float64 {
		if t := s.turn.Load(); t != nil {
			return float64(t.AllocationCount())
		}
		return 0
	})
	return s, nil
}

// SignalAddr is the signalling listener's address.
func (s *Server) SignalAddr() net.Addr { return s.ln.Addr() }

// TURNAddr is the public STUN/TURN address handed to agents ("ip:port").
func (s *Server) TURNAddr() string { return s.turnAddr }

// ID is the relay's name as handed to agents.
func (s *Server) ID() string { return s.opts.ID }

// Ready reports whether Serve is serving.
func (s *Server) Ready() bool { return s.ready.Load() }

// Serve runs the TURN server and the signalling listener until ctx is done or the listener
// fails; it closes the sockets and every session before it returns.
func (s *Server) Serve(ctx context.Context) error {
	log := s.opts.Logger
	pionLog := newPionLoggerFactory(log)
	permission := func(_ net.Addr, peer net.IP) bool {
		return s.opts.AllowExternalPeers || peer.Equal(s.opts.PublicIP) || peer.Equal(s.opts.RelayBindIP)
	}
	ts, err := turn.NewServer(turn.ServerConfig{
		Realm:         s.opts.Realm,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(string(s.opts.TURNSecret), pionLog.NewLogger("turn")),
		LoggerFactory: pionLog,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: s.udp,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: s.opts.PublicIP,
				Address:      s.opts.RelayBindIP.String(),
				Net:          s.opts.Net,
			},
			PermissionHandler: permission,
		}},
	})
	if err != nil {
		_ = s.udp.Close()
		_ = s.ln.Close()
		return fmt.Errorf("relay: start turn: %w", err)
	}
	s.turn.Store(ts)
	log.Info("Relay serving", "id", s.opts.ID, "signal", s.ln.Addr().String(), "turn", s.turnAddr)
	s.ready.Store(true)

	stop := context.AfterFunc(ctx, func() { _ = s.ln.Close() })
	defer stop()
	var serveErr error
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !s.isClosed() {
				serveErr = fmt.Errorf("relay: accept: %w", err)
			}
			break
		}
		s.goSession(ctx, c)
	}
	s.ready.Store(false)
	s.shutdown()
	if err := ts.Close(); err != nil {
		log.V(2).Info("Closing TURN server", "err", err)
	}
	return serveErr
}

// Close stops a server whose Serve was never called or is running; Serve returns soon after.
func (s *Server) Close() error {
	s.shutdown()
	if s.turn.Load() == nil {
		_ = s.udp.Close()
	}
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) goSession(ctx context.Context, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveConn(ctx, c)
	}()
}

// shutdown closes the listener and all sessions and waits for their goroutines.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	_ = s.ln.Close()
	for _, ss := range s.sessions {
		ss.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{s.opts.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    s.opts.Roots,
	}
}
