package edgemesh

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh/proxy"
	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/tunnel"
)

// endpointHeader is the header of every tunnel stream one agent opens to another: the endpoint
// on the peer's node to connect the stream to. The peer dials it only if its own service view
// lists that address as an endpoint on its node, so a peer cannot make it dial anything else.
type endpointHeader struct {
	Protocol view.Protocol  `json:"p"`
	Addr     netip.AddrPort `json:"a"`
}

// ErrNotLocalEndpoint is the refusal of a stream whose target is not an endpoint on this node.
var ErrNotLocalEndpoint = errors.New("edgemesh: not an endpoint on this node")

// tunnelAgent is the part of tunnel.Agent the mesh uses.
type tunnelAgent interface {
	Dial(ctx context.Context, peer string, header []byte) (tunnel.Stream, error)
	Accept(ctx context.Context) (tunnel.Stream, error)
}

// dialRemote opens a stream to node's agent for endpoint addr. For UDP the stream carries
// datagrams, each prefixed with its length (datagramConn).
func dialRemote(ctx context.Context, t tunnelAgent, node string, addr netip.AddrPort, proto view.Protocol) (net.Conn, error) {
	h, _ := json.Marshal(endpointHeader{Protocol: proto, Addr: addr})
	s, err := t.Dial(ctx, node, h)
	if err != nil {
		return nil, fmt.Errorf("edgemesh: dial %s via %s: %w", addr, node, err)
	}
	if proto == view.UDP {
		return &datagramConn{Conn: s}, nil
	}
	return s, nil
}

// serveRemote accepts streams from peers until ctx ends, and connects each to the local
// endpoint its header names.
func serveRemote(ctx context.Context, t tunnelAgent, store *view.Store, node string, dialTimeout time.Duration, log klog.Logger) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s, err := t.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error(err, "Accepting tunnel streams stopped")
			}
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			if err := serveStream(ctx, s, store, node, dialTimeout); err != nil {
				log.V(2).Info("Tunnel stream refused", "peer", s.Peer(), "err", err)
			}
		}()
	}
}

func serveStream(ctx context.Context, s tunnel.Stream, store *view.Store, node string, dialTimeout time.Duration) error {
	var h endpointHeader
	if err := json.Unmarshal(s.Header(), &h); err != nil {
		return fmt.Errorf("edgemesh: stream header from %s: %w", s.Peer(), err)
	}
	if h.Protocol != view.TCP && h.Protocol != view.UDP {
		return fmt.Errorf("edgemesh: stream header from %s: protocol %q", s.Peer(), h.Protocol)
	}
	if !store.HasEndpointOnNode(node, h.Addr.Addr(), h.Addr.Port()) {
		return fmt.Errorf("%w: %s asked for %s", ErrNotLocalEndpoint, s.Peer(), h.Addr)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	if h.Protocol == view.TCP {
		c, err := d.DialContext(dctx, "tcp", h.Addr.String())
		if err != nil {
			return fmt.Errorf("edgemesh: dial %s for %s: %w", h.Addr, s.Peer(), err)
		}
		proxy.Splice(s, c, 0)
		return nil
	}
	c, err := d.DialContext(dctx, "udp", h.Addr.String())
	if err != nil {
		return fmt.Errorf("edgemesh: dial %s for %s: %w", h.Addr, s.Peer(), err)
	}
	defer c.Close()
	relayDatagrams(&datagramConn{Conn: s}, c)
	return nil
}

// relayDatagrams moves datagrams between two datagram conns until either fails or goes idle.
func relayDatagrams(a, b net.Conn) {
	const idle = 2 * time.Minute
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, maxDatagram)
		for {
			_ = src.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if err != nil {
				break
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				break
			}
		}
		_ = a.Close()
		_ = b.Close()
	}
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}

// maxDatagram is the largest UDP payload carried.
const maxDatagram = 65535

// datagramConn carries datagrams over a stream: each is a 2-byte big-endian length and the
// payload. Read returns one datagram; Write sends one.
type datagramConn struct {
	net.Conn
	rmu sync.Mutex
	wmu sync.Mutex
	hdr [2]byte
}

func (d *datagramConn) Read(b []byte) (int, error) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	if _, err := io.ReadFull(d.Conn, d.hdr[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(d.hdr[:]))
	if n > len(b) {
		// Keep the stream in step: read the datagram whole, hand over what fits.
		buf := make([]byte, n)
		if _, err := io.ReadFull(d.Conn, buf); err != nil {
			return 0, err
		}
		return copy(b, buf), nil
	}
	return io.ReadFull(d.Conn, b[:n])
}

func (d *datagramConn) Write(b []byte) (int, error) {
	if len(b) > maxDatagram {
		return 0, fmt.Errorf("edgemesh: datagram of %d bytes", len(b))
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	buf := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	copy(buf[2:], b)
	if _, err := d.Conn.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
