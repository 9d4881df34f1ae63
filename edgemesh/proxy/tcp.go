package proxy

import (
	"errors"
	"net"
	"sync"
	"time"
)

// tcpPort is the TCP side of a servicePort: a listener and the connections it accepted.
type tcpPort struct {
	ln net.Listener

	mu       sync.Mutex
	stopping bool
	conns    map[net.Conn]struct{}
}

func newTCPPort(ln net.Listener) *tcpPort {
	return &tcpPort{ln: ln, conns: make(map[net.Conn]struct{})}
}

// track registers c to be closed by close; it reports false once the port is stopping.
func (t *tcpPort) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopping {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *tcpPort) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// close stops accepting and closes every tracked connection.
func (t *tcpPort) close() {
	t.mu.Lock()
	t.stopping = true
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	t.ln.Close()
	for c := range conns {
		c.Close()
	}
}

// serveTCP accepts connections until the listener closes; it owns the handlers.
func (sp *servicePort) serveTCP() {
	defer sp.wg.Done()
	delay := 5 * time.Millisecond
	for {
		c, err := sp.tcp.ln.Accept()
		if err != nil {
			if sp.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of spinning.
			sp.log.Error(err, "Accept failed")
			select {
			case <-sp.ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		sp.wg.Add(1)
		go sp.handleTCP(c)
	}
}

// handleTCP connects c to a backend and splices them; c is reset when no backend answers.
func (sp *servicePort) handleTCP(c net.Conn) {
	defer sp.wg.Done()
	if !sp.tcp.track(c) {
		c.Close()
		return
	}
	defer sp.tcp.untrack(c)
	be, b, err := sp.connect(clientAddr(c.RemoteAddr()))
	if err != nil {
		sp.countFailure(err)
		sp.log.V(2).Info("No backend for connection", "client", c.RemoteAddr(), "err", err)
		reset(c)
		return
	}
	if !sp.tcp.track(be) {
		be.Close()
		c.Close()
		return
	}
	defer sp.tcp.untrack(be)
	sp.m.ok.Inc()
	sp.m.active.Inc()
	defer sp.m.active.Dec()
	sp.log.V(4).Info("Proxying connection", "client", c.RemoteAddr(), "endpoint", b.addr)
	toBackend, toClient := splice(c, be, sp.opts.TCPIdleTimeout)
	sp.m.toBackend.Add(float64(toBackend))
	sp.m.toClient.Add(float64(toClient))
}

// reset closes c with an RST (SO_LINGER 0) when it is TCP, so the client fails at once
// instead of seeing a clean EOF.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
