package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
)

// edge is one simulated edge node: a lean client of the real protocol (TLS client
// certificate, websocket, yamux client, control stream, Hello with an empty inventory, an ack
// for every sync batch). It keeps no store: it counts the upserts of its session and notes when
// the watched Service and EndpointSlice arrive. Per session it runs one goroutine of its own
// (the control-stream reader) next to yamux's receive, send and keepalive loops.
type edge struct {
	id   int
	name string
	tls  *tls.Config
	f    *fleet

	mu   sync.Mutex
	tcp  net.Conn       // the current session's TCP connection; nil when down
	mux  *yamux.Session // the current session
	done chan struct{}  // closed when the current session's reader returns

	upserts  atomic.Int64 // upserts received this session
	syncedAt atomic.Int64 // unix ns when upserts reached fleet.expectedFor this session; 0 before
	svcAt    atomic.Int64 // unix ns of the first frame with the watched Service
	sliceAt  atomic.Int64 // ... and EndpointSlice
}

// leanFrame decodes what an edge that keeps no objects needs from a frame; the objects are
// skipped by the decoder.
type leanFrame struct {
	Type    hubproto.Type `json:"type"`
	Seq     uint64        `json:"seq"`
	Error   string        `json:"error"`
	Changes []struct {
		Resource string      `json:"resource"`
		Name     string      `json:"name"`
		Op       hubproto.Op `json:"op"`
	} `json:"changes"`
}

// connect dials the hub, says Hello and starts the reader. It returns once Hello is written.
func (e *edge) connect(ctx context.Context) error {
	f := e.f
	e.upserts.Store(0)
	e.syncedAt.Store(0)
	var tcp net.Conn
	d := websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		Subprotocols:     []string{hubproto.Subprotocol},
		ReadBufferSize:   2048,
		WriteBufferPool:  f.wbufs,
		NetDialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// Source addresses spread over 127.1.0.0/16: each has its own ephemeral ports,
			// so 10,000 sessions and a reconnect storm do not run out of them.
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(e.id/250%200), byte(1+e.id%250))}}
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tcp = &countingConn{Conn: c, f: f}
			tc := tls.Client(tcp, e.tls)
			if err := tc.HandshakeContext(ctx); err != nil {
				tcp.Close()
				return nil, err
			}
			return tc, nil
		},
	}
	ws, resp, err := d.DialContext(ctx, f.url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("edge %s: dial: %w", e.name, err)
	}
	if ws.Subprotocol() != hubproto.Subprotocol {
		ws.Close()
		return fmt.Errorf("edge %s: subprotocol %q", e.name, ws.Subprotocol())
	}
	ws.SetReadLimit(16 << 20)
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = f.keepAlive > 0
	if f.keepAlive > 0 {
		c.KeepAliveInterval = f.keepAlive
	}
	c.LogOutput = io.Discard
	mux, err := yamux.Client(wsconn.New(ws), c)
	if err != nil {
		ws.Close()
		return fmt.Errorf("edge %s: yamux: %w", e.name, err)
	}
	ctrl, err := mux.OpenStream()
	if err != nil {
		mux.Close()
		return fmt.Errorf("edge %s: control stream: %w", e.name, err)
	}
	if err := hubproto.WriteFrame(ctrl, &hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: e.name, Inventory: []hubproto.Held{}}}); err != nil {
		mux.Close()
		return fmt.Errorf("edge %s: hello: %w", e.name, err)
	}
	done := make(chan struct{})
	e.mu.Lock()
	e.tcp, e.mux, e.done = tcp, mux, done
	e.mu.Unlock()
	go func() {
		defer close(done)
		defer mux.Close()
		if err := e.read(ctrl); err != nil && !f.closing.Load() {
			f.logErr(fmt.Errorf("edge %s: %w", e.name, err))
		}
	}()
	return nil
}

// read answers sync frames with acks until the session ends.
func (e *edge) read(ctrl net.Conn) error {
	var h [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(ctrl, h[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(h[:])
		if n == 0 || n > hubproto.MaxFrameSize {
			return fmt.Errorf("frame of %d bytes", n)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if _, err := io.ReadFull(ctrl, b); err != nil {
			return err
		}
		var fr leanFrame
		if err := json.Unmarshal(b, &fr); err != nil {
			return fmt.Errorf("%w: %w", hubproto.ErrMalformedFrame, err)
		}
		if len(buf) > 64<<10 {
			buf = nil // do not keep a large initial-sync buffer per idle edge
		}
		switch fr.Type {
		case hubproto.TypeSync:
			if fr.Seq == 0 {
				return fmt.Errorf("%w: sync without seq", hubproto.ErrMalformedFrame)
			}
			e.noteChanges(&fr)
			if err := hubproto.WriteFrame(ctrl, &hubproto.Frame{Type: hubproto.TypeAck, Seq: fr.Seq}); err != nil {
				return err
			}
		case hubproto.TypeError:
			return fmt.Errorf("hub error: %s", fr.Error)
		case hubproto.TypeAck: // no status frames are sent
		default:
			return fmt.Errorf("%w: unexpected %q frame", hubproto.ErrMalformedFrame, fr.Type)
		}
	}
}

func (e *edge) noteChanges(fr *leanFrame) {
	f := e.f
	now := time.Now().UnixNano()
	w := f.watch.Load()
	var ups int64
	for _, c := range fr.Changes {
		if c.Op != hubproto.OpUpsert {
			continue
		}
		ups++
		if c.Resource == "/v1/nodes" && c.Name != e.name {
			f.foreign.Add(1)
		}
		if w != nil && c.Name == w.name {
			switch c.Resource {
			case "/v1/services":
				e.svcAt.CompareAndSwap(0, now)
			case "discovery.k8s.io/v1/endpointslices":
				e.sliceAt.CompareAndSwap(0, now)
			}
		}
	}
	f.changes.Add(ups)
	if ups > 0 && e.upserts.Add(ups) >= f.expectedFor(e.name) && e.syncedAt.CompareAndSwap(0, now) {
		f.synced.Add(1)
	}
}

// drop closes the session's TCP connection (no close handshake: a network failure) and waits
// for the reader.
func (e *edge) drop() {
	e.mu.Lock()
	tcp, done := e.tcp, e.done
	e.tcp, e.mux, e.done = nil, nil, nil
	e.mu.Unlock()
	if tcp != nil {
		tcp.Close()
		<-done
	}
}

// countingConn counts the TCP bytes (TLS records included) of an edge.
type countingConn struct {
	net.Conn
	f *fleet
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.f.down.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.f.up.Add(int64(n))
	return n, err
}
