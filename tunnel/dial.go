package tunnel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"
)

// Dial opens a stream to peer carrying header. A new peer is reached through a relay at once
// (or host to host if heard on the LAN); hole punching runs in the background and later
// streams take the direct path when it is up. Dial waits for a path until ctx ends
// (ErrNoPath).
func (a *Agent) Dial(ctx context.Context, peerName string, header []byte) (Stream, error) {
	if len(header) > a.opts.MaxHeaderSize {
		return nil, fmt.Errorf("tunnel: dial %s: %w", peerName, ErrHeaderTooLarge)
	}
	if peerName == a.opts.NodeName {
		return nil, fmt.Errorf("tunnel: dial %s: %w", peerName, ErrSelf)
	}
	a.mu.Lock()
	started := a.started
	a.mu.Unlock()
	if !started {
		return nil, ErrNotStarted
	}
	p := a.peer(peerName)
	if p == nil {
		return nil, ErrClosed
	}
	p.mu.Lock()
	p.wanted = true
	p.mu.Unlock()
	policy, kick := keepSession, true
	for {
		pc, changed := p.best()
		if pc != nil {
			s, err := a.openStream(ctx, p, pc, header)
			if err == nil {
				return s, nil
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("tunnel: dial %s: %w", peerName, err)
			}
			// The connection died under us: wait for detach (or another path) and retry.
			select {
			case <-pc.conn.Context().Done():
			case <-ctx.Done():
			}
			p.detach(pc)
			continue
		}
		if kick {
			p.connectPolicy(policy)
			kick = false
		}
		select {
		case <-changed:
		case <-a.ctx.Done():
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("tunnel: dial %s: %w (%w)", peerName, ErrNoPath, ctx.Err())
		case <-time.After(time.Second):
			// Ask again: the peer may have registered since, or a signal was lost.
			a.dialRekicks.Add(1)
			policy, kick = replaceUnanswered, true
		}
	}
}

func (a *Agent) openStream(ctx context.Context, p *peer, pc *pconn, header []byte) (Stream, error) {
	qs, err := pc.conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if err := writeHeader(qs, header); err != nil {
		qs.CancelWrite(streamCodeClosed)
		qs.CancelRead(streamCodeClosed)
		return nil, err
	}
	a.metrics.streams.WithLabelValues("dialed", string(pc.path.kind)).Inc()
	return newStream(qs, pc, p.name, header), nil
}

// Accept returns the next stream a peer opened, with its header and verified peer name.
func (a *Agent) Accept(ctx context.Context) (Stream, error) {
	select {
	case s := <-a.acceptCh:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-a.ctx.Done():
		return nil, ErrClosed
	}
}

// acceptStreams reads stream headers on a connection and queues the streams for Accept.
func (a *Agent) acceptStreams(p *peer, pc *pconn) {
	for {
		qs, err := pc.conn.AcceptStream(a.ctx)
		if err != nil {
			return
		}
		a.goAsync(func() {
			_ = qs.SetReadDeadline(time.Now().Add(a.opts.HandshakeTimeout))
			h, err := readHeader(qs, a.opts.MaxHeaderSize)
			_ = qs.SetReadDeadline(time.Time{})
			if err != nil {
				a.metrics.streams.WithLabelValues("refused", string(pc.path.kind)).Inc()
				var se *quic.StreamError
				if !errors.As(err, &se) {
					a.log.V(1).Info("Bad stream header", "peer", p.name, "err", err)
				}
				qs.CancelRead(streamCodeBadHeader)
				qs.CancelWrite(streamCodeBadHeader)
				return
			}
			select {
			case a.acceptCh <- newStream(qs, pc, p.name, h):
				a.metrics.streams.WithLabelValues("accepted", string(pc.path.kind)).Inc()
			default:
				a.metrics.streams.WithLabelValues("refused", string(pc.path.kind)).Inc()
				qs.CancelRead(streamCodeRefused)
				qs.CancelWrite(streamCodeRefused)
			}
		})
	}
}
