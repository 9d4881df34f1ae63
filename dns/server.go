package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// serverUDPSize is the read buffer for UDP queries: far above any real query.
const serverUDPSize = 4096

// Server serves a [Handler] on UDP and TCP sockets. It owns the sockets and
// one goroutine per socket (plus miekg's per-query goroutines), all stopped by
// Close.
type Server struct {
	handler   *Handler
	servers   []*dns.Server
	pconns    []net.PacketConn
	listeners []net.Listener

	mu      sync.Mutex
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// NewServer opens the sockets of opts (Listen, plus PacketConns and Listeners
// as given) and builds the handler. Nothing is served before Start or Run.
// A Listen address with port 0 gets the same port on UDP and TCP.
func NewServer(opts Options) (*Server, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		pconns:    append([]net.PacketConn(nil), opts.PacketConns...),
		listeners: append([]net.Listener(nil), opts.Listeners...),
	}
	for _, addr := range opts.Listen {
		pc, l, err := listenBoth(opts, addr)
		if err != nil {
			s.closeSockets()
			return nil, err
		}
		s.pconns = append(s.pconns, pc)
		s.listeners = append(s.listeners, l)
	}
	if len(s.pconns)+len(s.listeners) == 0 {
		return nil, fmt.Errorf("dns: new server: %w", ErrNoListeners)
	}

	var self []netip.AddrPort
	for _, a := range s.Addrs() {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			self = append(self, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	h, err := NewHandler(opts, self...)
	if err != nil {
		s.closeSockets()
		return nil, err
	}
	s.handler = h

	invalid := func([]byte, error) { h.metrics.invalid.Inc() }
	for _, pc := range s.pconns {
		s.servers = append(s.servers, &dns.Server{
			PacketConn: pc, Handler: h, UDPSize: serverUDPSize,
			MsgAcceptFunc: acceptQuery, MsgInvalidFunc: invalid,
		})
	}
	idle := opts.TCPIdleTimeout
	for _, l := range s.listeners {
		s.servers = append(s.servers, &dns.Server{
			Listener: l, Handler: h,
			ReadTimeout: idle, WriteTimeout: idle,
			IdleTimeout:   func() time.Duration { return idle },
			MsgAcceptFunc: acceptQuery, MsgInvalidFunc: invalid,
		})
	}
	return s, nil
}

// listenBoth opens addr on UDP and TCP; port 0 picks a port free on both.
func listenBoth(opts Options, addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := opts.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		tcpAddr := pc.LocalAddr().String()
		l, err := opts.ListenStream("tcp", tcpAddr)
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("dns: listen tcp %s: %w", tcpAddr, err)
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// acceptQuery is the server's first look at a packet, from its header alone:
// answers are ignored, opcodes other than QUERY get NOTIMP, and anything but
// one question (with no answer/authority records, at most OPT and a TSIG in
// additional) gets FORMERR.
func acceptQuery(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if dh.Qdcount != 1 || dh.Ancount > 0 || dh.Nscount > 0 || dh.Arcount > 2 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// Handler returns the server's handler.
func (s *Server) Handler() *Handler { return s.handler }

// Addrs returns the local addresses served: UDP sockets first, then TCP listeners.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, pc := range s.pconns {
		out = append(out, pc.LocalAddr())
	}
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Start serves every socket in the background and returns once all serve.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("dns: start: %w", ErrClosed)
	}
	if s.started {
		return nil
	}
	s.started = true
	for _, ds := range s.servers {
		started := make(chan struct{})
		errc := make(chan error, 1)
		ds.NotifyStartedFunc = func() { close(started) }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			err := ds.ActivateAndServe()
			if err != nil {
				s.handler.log.Error(err, "DNS server stopped", "addr", serverAddr(ds))
			}
			errc <- err
		}()
		select {
		case <-started:
		case err := <-errc:
			s.shutdownLocked()
			return fmt.Errorf("dns: serve %s: %w", serverAddr(ds), err)
		}
	}
	return nil
}

// Run serves until ctx is done, then closes the server.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Close stops serving, closes the sockets, cancels forwarded queries in flight
// and waits for the server's goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.shutdownLocked()
}

func (s *Server) shutdownLocked() error {
	s.closed = true
	s.handler.Close()
	var errs []error
	if s.started {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, ds := range s.servers {
			// A server that failed to start answers "not started": nothing to stop.
			if err := ds.ShutdownContext(ctx); errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, fmt.Errorf("dns: shutdown %s: %w", serverAddr(ds), err))
			}
		}
	}
	s.closeSockets()
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Server) closeSockets() {
	for _, pc := range s.pconns {
		pc.Close()
	}
	for _, l := range s.listeners {
		l.Close()
	}
}

func serverAddr(ds *dns.Server) string {
	if ds.PacketConn != nil {
		return "udp/" + ds.PacketConn.LocalAddr().String()
	}
	return "tcp/" + ds.Listener.Addr().String()
}
