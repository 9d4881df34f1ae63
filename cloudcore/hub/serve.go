package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
	"github.com/outpostmesh/outpost/pki"
)

const subprotocol = hubproto.Subprotocol

// wsReadLimit bounds one websocket message: yamux sends a frame header and a body of at most a
// stream window (256 KiB by default) per message.
const wsReadLimit = 4 << 20

// ServeHTTP upgrades an authenticated edge's request to a hub session and runs it until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != h.opts.Path {
		http.NotFound(w, r)
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		h.refuse(reasonNoCert, r.RemoteAddr, errNoClientCert)
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	certNode, err := pki.NodeName(r.TLS.PeerCertificates[0])
	if err != nil { // VerifyConnection checked it; this guards a Hub mounted elsewhere
		h.refuse(reasonBadCert, r.RemoteAddr, err)
		http.Error(w, "not a node certificate", http.StatusForbidden)
		return
	}
	if !slices.Contains(websocket.Subprotocols(r), subprotocol) {
		h.refuse(reasonSubprotocol, certNode, fmt.Errorf("subprotocols %q", websocket.Subprotocols(r)))
		http.Error(w, "subprotocol "+subprotocol+" required", http.StatusBadRequest)
		return
	}
	if !h.begin() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.wg.Done()
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil { // the upgrader answered the request
		h.refuse(reasonUpgrade, certNode, err)
		return
	}
	h.run(ws, certNode)
}

// run owns one session from the upgraded websocket to the Disconnected call.
func (h *Hub) run(ws *websocket.Conn, certNode string) {
	ws.SetReadLimit(wsReadLimit)
	conn := wsconn.New(ws)
	mux, err := yamux.Server(conn, h.yamuxConfig())
	if err != nil {
		ws.Close()
		return
	}
	ctrl, hello, err := h.hello(mux, ws, certNode)
	if err != nil {
		mux.Close()
		return
	}
	s := h.newSession(certNode, mux, ctrl)
	if !h.register(s) {
		mux.Close()
		return
	}
	logger := s.logger
	logger.Info("Edge connected", "remote", ws.RemoteAddr(), "held", len(hello.Inventory))
	h.opts.Handler.Connected(s, hello)

	done := make(chan struct{})
	go func() { defer close(done); s.writeLoop() }()
	pinged := make(chan struct{})
	go func() { defer close(pinged); s.pingLoop(ws) }()

	err = s.readLoop()
	s.closeWith(err)
	<-done
	<-pinged
	h.unregister(s)
	err = s.Err()
	logger.Info("Edge disconnected", "err", err)
	h.opts.Handler.Disconnected(s, err)
}

// hello accepts the control stream and reads a Hello naming certNode.
func (h *Hub) hello(mux *yamux.Session, ws *websocket.Conn, certNode string) (*yamux.Stream, *hubproto.Hello, error) {
	deadline := time.Now().Add(h.opts.HelloTimeout)
	_ = ws.SetReadDeadline(deadline)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctrl, err := mux.AcceptStreamWithContext(ctx)
	if err != nil {
		h.refuse(reasonNoHello, certNode, err)
		return nil, nil, err
	}
	_ = ctrl.SetReadDeadline(deadline)
	f, err := hubproto.ReadFrame(ctrl, h.opts.MaxFrameSize)
	if err != nil {
		reason := frameErrorReason(err)
		if reason == "" {
			reason = reasonNoHello
		}
		h.refuse(reason, certNode, err)
		h.sendError(ctrl, err)
		return nil, nil, err
	}
	h.metrics.framesIn.WithLabelValues(string(f.Type)).Inc()
	switch {
	case f.Type != hubproto.TypeHello:
		err = fmt.Errorf("hub: %s frame before hello", f.Type)
		h.refuse(reasonUnexpected, certNode, err)
	case f.Hello.Node != certNode:
		err = fmt.Errorf("hub: hello names node %q, certificate %q", f.Hello.Node, certNode)
		h.refuse(reasonNodeMismatch, certNode, err)
	}
	if err != nil {
		h.sendError(ctrl, err)
		return nil, nil, err
	}
	_ = ctrl.SetReadDeadline(time.Time{})
	_ = ws.SetReadDeadline(time.Now().Add(h.opts.PongTimeout))
	return ctrl, f.Hello, nil
}

// sendError tells the edge why its session ends, if it still listens.
func (h *Hub) sendError(w interface {
	io.Writer
	SetWriteDeadline(time.Time) error
}, cause error) {
	_ = w.SetWriteDeadline(time.Now().Add(time.Second))
	if err := hubproto.WriteFrame(w, &hubproto.Frame{Type: hubproto.TypeError, Error: cause.Error()}); err == nil {
		h.metrics.framesOut.WithLabelValues(string(hubproto.TypeError)).Inc()
	}
}

// frameErrorReason is the refusal reason of a bad frame, "" for a transport error.
func frameErrorReason(err error) string {
	switch {
	case errors.Is(err, hubproto.ErrFrameTooLarge):
		return reasonFrameTooLarge
	case errors.Is(err, hubproto.ErrMalformedFrame):
		return reasonMalformed
	}
	return ""
}

func (h *Hub) yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false // websocket pings are the heartbeat
	c.ConnectionWriteTimeout = h.opts.WriteTimeout
	c.LogOutput = io.Discard
	return c
}
