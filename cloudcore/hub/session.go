package hub

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/yamux"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/hubproto"
)

// Session is one edge node's live connection. Its methods are safe for concurrent use.
type Session struct {
	node   string
	hub    *Hub
	mux    *yamux.Session
	ctrl   net.Conn // the control stream
	logger klog.Logger

	slots chan struct{} // one token per unacknowledged sync batch (capacity Window)
	wake  chan struct{} // capacity 1: the writer has frames
	done  chan struct{} // closed by Close
	once  sync.Once

	mu      sync.Mutex
	nextSeq uint64              // last sync seq sent
	unacked map[uint64]struct{} // sync seqs in flight
	out     [][]byte            // encoded frames for the writer
	outType []hubproto.Type
	err     error // why the session ended

	lastPong atomic.Int64 // unix nanoseconds of the last pong (or the session start)
}

// Node is the node this session authenticated as.
func (s *Session) Node() string { return s.node }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended (nil while it is live or after a hub shutdown).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Send sends changes as one sync batch and returns its seq, blocking while Window batches are
// unacknowledged. The Handler's Acked reports the acknowledgement.
func (s *Session) Send(ctx context.Context, changes []hubproto.Change) (uint64, error) {
	if len(changes) == 0 {
		return 0, ErrEmptyBatch
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		return 0, fmt.Errorf("%w: %s", ErrSessionClosed, s.node)
	}
	return s.enqueueSync(changes)
}

// TrySend is Send without blocking: ErrWindowFull when Window batches are unacknowledged.
func (s *Session) TrySend(changes []hubproto.Change) (uint64, error) {
	if len(changes) == 0 {
		return 0, ErrEmptyBatch
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return 0, ErrWindowFull
	}
	return s.enqueueSync(changes)
}

// InFlight is the number of unacknowledged sync batches.
func (s *Session) InFlight() int { return len(s.slots) }

// AckStatus acknowledges the edge's status frame seq.
func (s *Session) AckStatus(seq uint64) error {
	b, err := encode(&hubproto.Frame{Type: hubproto.TypeAck, Seq: seq})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(b, hubproto.TypeAck)
}

// OpenStream opens a yamux stream to the edge (reverse tunnel). The caller closes it. yamux
// opens without waiting for the peer (the SYN is queued), so ctx only guards the start; the
// session's write timeout bounds the rest.
func (s *Session) OpenStream(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := s.mux.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("hub: open stream to %s: %w", s.node, err)
	}
	return c, nil
}

// Close ends the session.
func (s *Session) Close() { s.closeWith(nil) }

func (s *Session) closeWith(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		n := len(s.unacked)
		s.unacked = nil
		s.mu.Unlock()
		s.hub.metrics.unacked.Sub(float64(n))
		close(s.done)
		s.mux.Close()
	})
}

// enqueueSync encodes changes with the next seq and queues the frame; the caller holds a slot,
// which is released on failure. Encoding under the lock keeps seqs in queue order.
func (s *Session) enqueueSync(changes []hubproto.Change) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(err error) (uint64, error) {
		<-s.slots
		return 0, err
	}
	if s.unacked == nil {
		return fail(fmt.Errorf("%w: %s", ErrSessionClosed, s.node))
	}
	seq := s.nextSeq + 1
	b, err := encode(&hubproto.Frame{Type: hubproto.TypeSync, Seq: seq, Changes: changes})
	if err != nil {
		return fail(err)
	}
	if len(b)-4 > s.hub.opts.MaxFrameSize {
		return fail(fmt.Errorf("%w: %d bytes, %d changes (limit %d)", ErrBatchTooLarge, len(b)-4, len(changes), s.hub.opts.MaxFrameSize))
	}
	if err := s.enqueueLocked(b, hubproto.TypeSync); err != nil {
		return fail(err)
	}
	s.nextSeq = seq
	s.unacked[seq] = struct{}{}
	s.hub.metrics.unacked.Inc()
	return seq, nil
}

func (s *Session) enqueueLocked(b []byte, t hubproto.Type) error {
	select {
	case <-s.done:
		return fmt.Errorf("%w: %s", ErrSessionClosed, s.node)
	default:
	}
	s.out = append(s.out, b)
	s.outType = append(s.outType, t)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// acked releases the slot of sync batch seq; false if seq is not in flight.
func (s *Session) acked(seq uint64) bool {
	s.mu.Lock()
	_, ok := s.unacked[seq]
	delete(s.unacked, seq)
	s.mu.Unlock()
	if ok {
		<-s.slots
		s.hub.metrics.unacked.Dec()
	}
	return ok
}

// encode returns f with its length prefix.
func encode(f *hubproto.Frame) ([]byte, error) {
	var buf bytes.Buffer
	if err := hubproto.WriteFrame(&buf, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
