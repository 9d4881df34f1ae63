// Package wsconn adapts a gorilla websocket to a net.Conn carrying binary messages, the
// transport under the hub's yamux session. It knows nothing about the hub: the edge's client
// can use it as it is.
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

// ErrTextMessage is returned by Read for a text message.
var ErrTextMessage = errors.New("wsconn: websocket text message on a binary session")

// Conn adapts a websocket to a net.Conn: each Write is one binary message, Read returns the
// bytes of consecutive binary messages as one stream. yamux runs on it. One goroutine may Read
// and one Write at a time (yamux has one of each); pings go through WriteControl, which
// gorilla allows concurrently.
type Conn struct {
	ws  *websocket.Conn
	r   io.Reader // current message; nil between messages
	wmu sync.Mutex
}

// New wraps ws. Closing the Conn closes ws. The edge side may use it too.
func New(ws *websocket.Conn) *Conn { return &Conn{ws: ws} }

// Read reads from the current binary message, moving to the next one at its end.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
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

// Close closes the websocket's connection without a close handshake (the peer sees EOF).
func (c *Conn) Close() error { return c.ws.Close() }

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
