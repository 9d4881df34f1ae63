package hub

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/gorilla/websocket"
)

// errReplaced ends a session when the same node connects again.
var errReplaced = errors.New("hub: replaced by a new session of the node")

// Hub is the websocket server edge nodes connect to.
type Hub struct {
	opts     Options
	metrics  *metrics
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
	wg       sync.WaitGroup // session owners (ServeHTTP calls past the upgrade)
}

// New checks opts and returns a Hub; Serve runs it.
func New(opts Options) (*Hub, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Hub{
		opts:     opts,
		metrics:  newMetrics(opts.Registerer),
		sessions: make(map[string]*Session),
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: opts.HelloTimeout,
		// Zero buffer sizes reuse the HTTP server's 4 KiB reader; the pool means idle sessions
		// hold no write buffer.
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{subprotocol},
		// Edges are not browsers; the client certificate is the authentication.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return h, nil
}

// Serve accepts TLS connections on ln (the hub adds TLS, ln is plain TCP) until ctx ends, then
// closes every session and returns once their goroutines are gone. It closes ln.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: h.opts.HelloTimeout,
		ErrorLog:          log.New(logWriter{h}, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tlsListener(ln, h.TLSConfig())) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("hub: serve: %w", err)
	}
	srv.Close() // listener and connections not yet upgraded
	h.shutdown()
	if err == nil {
		<-errc
	}
	return err
}

// Connected returns the names of the nodes with a live session, sorted.
func (h *Hub) Connected() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.sessions))
	for n := range h.sessions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Session returns node's live session, or nil.
func (h *Hub) Session(node string) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[node]
}

// OpenStream opens a stream to node over its session (the reverse tunnel).
func (h *Hub) OpenStream(ctx context.Context, node string) (net.Conn, error) {
	s := h.Session(node)
	if s == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, node)
	}
	return s.OpenStream(ctx)
}

// register makes s its node's session, closing the one it replaces.
func (h *Hub) register(s *Session) bool {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return false
	}
	old := h.sessions[s.node]
	h.sessions[s.node] = s
	if old == nil {
		h.metrics.connected.Inc()
	}
	h.mu.Unlock()
	if old != nil {
		h.metrics.replaced.Inc()
		h.opts.Logger.Info("Replacing session", "node", s.node)
		old.closeWith(errReplaced)
	}
	return true
}

// unregister removes s unless a newer session replaced it.
func (h *Hub) unregister(s *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.node] == s {
		delete(h.sessions, s.node)
		h.metrics.connected.Dec()
	}
}

// begin counts a session owner; false once the hub is shutting down.
func (h *Hub) begin() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// shutdown closes every session and waits for their owners.
func (h *Hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	all := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.Close()
	}
	h.wg.Wait()
}
