package hubclient

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn adapts a websocket to the byte stream yamux runs on: each Write is one binary
// message, Read concatenates the binary messages received. Text messages are dropped.
// Reading never waits longer than idle for the next message (pings count: the ping handler
// pushes the deadline), so a dead link ends the session instead of hanging it.
type wsConn struct {
	ws   *websocket.Conn
	idle time.Duration

	rmu sync.Mutex
	r   io.Reader // current message, nil between messages

	wmu sync.Mutex
}

// newWSConn wraps ws; idle 0 means no read deadline.
func newWSConn(ws *websocket.Conn, idle time.Duration) *wsConn {
	c := &wsConn{ws: ws, idle: idle}
	ws.SetPingHandler(func(data string) error {
		c.extend()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	return c
}

func (c *wsConn) extend() {
	if c.idle > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.idle))
	}
}

func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			c.extend()
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				continue
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a close message (best effort, briefly) and closes the connection.
func (c *wsConn) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }

var _ net.Conn = (*wsConn)(nil)
