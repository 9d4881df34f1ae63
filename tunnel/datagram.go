package tunnel

import (
	"context"
	"fmt"
)

// Datagram is one unreliable message from a peer.
//
// UDP proxying uses QUIC datagrams (RFC 9221) rather than a stream per flow: a lost packet
// must not delay the next one (which a stream would do), and datagrams need no per-flow
// setup. The tunnel does not interpret them; callers put their own flow identifier in front.
// A datagram must fit one QUIC packet (about 1,200 bytes on every path; larger ones fail
// with quic.DatagramTooLargeError).
type Datagram struct {
	// Peer is the verified sender.
	Peer string
	// Data is the payload.
	Data []byte
}

// SendDatagram sends b to peer over its current best path. It does not wait for a path: if
// there is none it starts connecting and returns ErrNoPath.
func (a *Agent) SendDatagram(peerName string, b []byte) error {
	p := a.peer(peerName)
	if p == nil {
		return ErrClosed
	}
	pc, _ := p.best()
	if pc == nil {
		p.mu.Lock()
		p.wanted = true
		p.mu.Unlock()
		p.connect()
		return fmt.Errorf("tunnel: datagram to %s: %w", peerName, ErrNoPath)
	}
	if err := pc.conn.SendDatagram(b); err != nil {
		return fmt.Errorf("tunnel: datagram to %s: %w", peerName, err)
	}
	a.metrics.datagrams.WithLabelValues("sent").Inc()
	return nil
}

// ReceiveDatagram returns the next datagram from any peer.
func (a *Agent) ReceiveDatagram(ctx context.Context) (Datagram, error) {
	select {
	case d := <-a.dgramCh:
		return d, nil
	case <-ctx.Done():
		return Datagram{}, ctx.Err()
	case <-a.ctx.Done():
		return Datagram{}, ErrClosed
	}
}

func (a *Agent) readDatagrams(p *peer, pc *pconn) {
	for {
		b, err := pc.conn.ReceiveDatagram(a.ctx)
		if err != nil {
			return
		}
		select {
		case a.dgramCh <- Datagram{Peer: p.name, Data: b}:
			a.metrics.datagrams.WithLabelValues("received").Inc()
		default:
			a.metrics.datagrams.WithLabelValues("dropped").Inc()
		}
	}
}
