package hubtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
)

// Edge is a connected test edge.
type Edge struct {
	WS   *websocket.Conn
	Mux  *yamux.Session
	Ctrl net.Conn
}

// DialOptions tune Dial.
type DialOptions struct {
	// Subprotocols offered; default hubproto.Subprotocol.
	Subprotocols []string
	// NoPong stops answering pings (heartbeat tests).
	NoPong bool
}

// Dial connects to url ("wss://127.0.0.1:port/hub") and opens the control stream; it sends no
// Hello (use Hello or Write).
func Dial(ctx context.Context, url string, cfg *tls.Config, o DialOptions) (*Edge, error) {
	if o.Subprotocols == nil {
		o.Subprotocols = []string{hubproto.Subprotocol}
	}
	d := websocket.Dialer{TLSClientConfig: cfg, Subprotocols: o.Subprotocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if o.NoPong {
		ws.SetPingHandler(func(string) error { return nil })
	}
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.LogOutput = io.Discard
	mux, err := yamux.Client(wsconn.New(ws), c)
	if err != nil {
		ws.Close()
		return nil, err
	}
	ctrl, err := mux.OpenStream()
	if err != nil {
		mux.Close()
		return nil, err
	}
	return &Edge{WS: ws, Mux: mux, Ctrl: ctrl}, nil
}

// Connect dials and sends a Hello for node with inventory.
func Connect(ctx context.Context, url string, cfg *tls.Config, node string, inventory []hubproto.Held) (*Edge, error) {
	e, err := Dial(ctx, url, cfg, DialOptions{})
	if err != nil {
		return nil, err
	}
	if err := e.Write(&hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: node, Inventory: inventory}}); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Write sends a frame on the control stream.
func (e *Edge) Write(f *hubproto.Frame) error { return hubproto.WriteFrame(e.Ctrl, f) }

// WriteRaw sends bytes on the control stream as they are.
func (e *Edge) WriteRaw(b []byte) error {
	_, err := e.Ctrl.Write(b)
	return err
}

// Read reads one frame, waiting at most d.
func (e *Edge) Read(d time.Duration) (*hubproto.Frame, error) {
	_ = e.Ctrl.SetReadDeadline(time.Now().Add(d))
	return hubproto.ReadFrame(e.Ctrl, 0)
}

// ErrNoFrame is Expect's error when nothing arrived in time.
var ErrNoFrame = errors.New("hubtest: no frame")

// ReadSync reads frames until a sync frame, waiting at most d overall.
func (e *Edge) ReadSync(d time.Duration) (*hubproto.Frame, error) {
	deadline := time.Now().Add(d)
	for {
		f, err := e.Read(time.Until(deadline))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, ErrNoFrame
			}
			return nil, err
		}
		if f.Type == hubproto.TypeSync {
			return f, nil
		}
		if f.Type == hubproto.TypeError {
			return nil, fmt.Errorf("hubtest: hub error: %s", f.Error)
		}
	}
}

// Ack acknowledges seq.
func (e *Edge) Ack(seq uint64) error {
	return e.Write(&hubproto.Frame{Type: hubproto.TypeAck, Seq: seq})
}

// Close closes the session.
func (e *Edge) Close() { e.Mux.Close() }

// Closed reports whether the hub ended the session within d.
func (e *Edge) Closed(d time.Duration) bool {
	select {
	case <-e.Mux.CloseChan():
		return true
	case <-time.After(d):
		return false
	}
}
