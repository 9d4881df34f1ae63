// Package wsconn adapts a gorilla websocket to a net.Conn carrying binary messages, the
// transport under the hub's yamux session. Both ends use it: cloudcore's hub and edgecore's hub
// client (it lives under hubproto because edgecore must not import cloudcore).
package wsconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// ErrTextMessage is returned by Read for a text message: a hub session carries binary
// messages only.
var ErrTextMessage = errors.New("wsconn: websocket text message on a binary session")

// Options tune a Conn. The zero value is what the hub uses.
type Options struct {
	// ReadIdle bounds the wait for the next message: every message and every ping received
	// pushes the read deadline ReadIdle ahead, so a dead link ends the session instead of
	// hanging it. Pings are answered with pongs. Zero: no read deadline (the owner sets its own).
	ReadIdle time.Duration
	// CloseMessage makes Close send a websocket close message (best effort, for at most a
	// second) before closing the connection; otherwise the peer just sees EOF.
	CloseMessage bool
}

// Conn adapts a websocket to a net.Conn: each Write is one binary message, Read returns the
// bytes of consecutive binary messages as one stream. yamux runs on it. Reads and Writes are
// each serialized; pings go through WriteControl, which gorilla allows concurrently.
type Conn struct {
	ws   *websocket.Conn
	opts Options

	rmu sync.Mutex
	r   io.Reader // current message; nil between messages

	wmu sync.Mutex
}

// New wraps ws with the zero Options. Closing the Conn closes ws.
func New(ws *websocket.Conn) *Conn { return NewWithOptions(ws, Options{}) }

// NewWithOptions wraps ws. With opts.ReadIdle it installs a ping handler on ws.
func NewWithOptions(ws *websocket.Conn, opts Options) *Conn {
	c := &Conn{ws: ws, opts: opts}
	if opts.ReadIdle > 0 {
		ws.SetPingHandler(func(data string) error {
			c.extend()
			err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			if errors.Is(err, websocket.ErrCloseSent) {
				return nil
			}
			return err
		})
	}
	return c
}

// extend pushes the read deadline ReadIdle ahead.
func (c *Conn) extend() {
	if c.opts.ReadIdle > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.ReadIdle))
	}
}

// Read reads from the current binary message, moving to the next one at its end.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			c.extend()
			mt, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				return 0, ErrTextMessage
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p as one binary message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, fmt.Errorf("wsconn: websocket write: %w", err)
	}
	return len(p), nil
}

// Close closes the websocket's connection, after a close message if Options.CloseMessage.
func (c *Conn) Close() error {
	if c.opts.CloseMessage {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	return c.ws.Close()
}

// LocalAddr returns the connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline of the websocket.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the websocket.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

var _ net.Conn = (*Conn)(nil)
