package tunnel

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// stunConn is the net.PacketConn pion/ice's UDP mux reads and writes: the non-QUIC side of the
// agent's one socket. quic-go owns the socket; packets whose first two bits are 0 (STUN's are)
// come out of Transport.ReadNonQUICPacket, and writes go out through Transport.WriteTo, so ICE
// checks and QUIC share one local port and therefore one NAT mapping: the address ICE
// nominates is the address QUIC then dials.
//
// Close ends reads without closing the socket (the agent closes the transport).
//
// Reads wait for open: pion/ice v4.4.1's NewUniversalUDPMuxDefault starts its reader before it
// finishes initialising itself, and a STUN packet arriving in between is a data race (seen
// with garbage traffic under -race), so the agent opens the gate once the mux is built.
type stunConn struct {
	tr     *quic.Transport
	local  net.Addr
	ctx    context.Context
	cancel context.CancelFunc
	gate   chan struct{}
	opened sync.Once

	mu       sync.Mutex
	deadline time.Time
}

func newSTUNConn(tr *quic.Transport, local net.Addr) *stunConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &stunConn{tr: tr, local: local, ctx: ctx, cancel: cancel, gate: make(chan struct{})}
}

// open lets reads through.
func (c *stunConn) open() { c.opened.Do(func() { close(c.gate) }) }

func (c *stunConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case <-c.gate:
	case <-c.ctx.Done():
		return 0, nil, io.EOF
	}
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	ctx := c.ctx
	if !dl.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	n, addr, err := c.tr.ReadNonQUICPacket(ctx, b)
	if err != nil {
		if c.ctx.Err() != nil {
			return 0, nil, io.EOF // the mux treats EOF as a quiet shutdown
		}
		if ctx.Err() != nil {
			return 0, nil, timeoutError{}
		}
		return 0, nil, io.EOF // transport closed
	}
	return n, addr, nil
}

func (c *stunConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.ctx.Err() != nil {
		return 0, net.ErrClosed
	}
	return c.tr.WriteTo(b, addr)
}

func (c *stunConn) Close() error        { c.cancel(); return nil }
func (c *stunConn) LocalAddr() net.Addr { return c.local }

func (c *stunConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline applies to reads that start afterwards (enough for pion's mux, which only
// uses deadlines to unblock its reader on close, and that is done by Close).
func (c *stunConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *stunConn) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
