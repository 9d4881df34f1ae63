package hubclient

import (
	"fmt"
	"sync"

	"github.com/outpostmesh/outpost/hubproto"
)

// statusQueue holds status updates on their way to the cloud. Pending updates are coalesced by
// object (a newer update replaces the queued one, keeping its place in line); sent updates stay
// in flight, by frame Seq, until acknowledged, and go back to the head of the line when a
// session ends unacknowledged (unless a newer update of the same object is already queued).
type statusQueue struct {
	max int // bound on distinct pending objects

	mu       sync.Mutex
	pending  map[hubproto.Ref]hubproto.StatusUpdate
	order    []hubproto.Ref // pending refs, oldest first, each once
	inflight map[uint64][]hubproto.StatusUpdate
	seq      uint64 // last Seq sent in this session

	kick chan struct{} // capacity 1: something to send, or window space
}

func newStatusQueue(max int) *statusQueue {
	return &statusQueue{
		max:      max,
		pending:  map[hubproto.Ref]hubproto.StatusUpdate{},
		inflight: map[uint64][]hubproto.StatusUpdate{},
		kick:     make(chan struct{}, 1),
	}
}

// add queues updates, all or none: ErrStatusQueueFull if the new objects do not fit.
func (q *statusQueue) add(updates []hubproto.StatusUpdate) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	fresh := map[hubproto.Ref]bool{}
	for _, u := range updates {
		if _, ok := q.pending[u.Ref]; !ok {
			fresh[u.Ref] = true
		}
	}
	if len(q.pending)+len(fresh) > q.max {
		return fmt.Errorf("hubclient: send status: %w (%d queued, %d more, limit %d)", ErrStatusQueueFull, len(q.pending), len(fresh), q.max)
	}
	for _, u := range updates {
		if _, ok := q.pending[u.Ref]; !ok {
			q.order = append(q.order, u.Ref)
		}
		q.pending[u.Ref] = u
	}
	q.signal()
	return nil
}

// next takes up to batch pending updates as the frame with the next Seq, unless nothing is
// pending or window frames are already unacknowledged.
func (q *statusQueue) next(batch, window int) ([]hubproto.StatusUpdate, uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 || len(q.inflight) >= window {
		return nil, 0
	}
	n := min(batch, len(q.order))
	out := make([]hubproto.StatusUpdate, n)
	for i, ref := range q.order[:n] {
		out[i] = q.pending[ref]
		delete(q.pending, ref)
	}
	q.order = q.order[n:]
	q.seq++
	q.inflight[q.seq] = out
	return out, q.seq
}

// ack drops the frame seq from flight; it reports whether seq was in flight.
func (q *statusQueue) ack(seq uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.inflight[seq]
	delete(q.inflight, seq)
	q.signal()
	return ok
}

// restart starts a new session's numbering: unacknowledged updates go back to the head of the
// line, oldest frame first, unless a newer update of their object is pending.
func (q *statusQueue) restart() {
	q.mu.Lock()
	defer q.mu.Unlock()
	newer := make(map[hubproto.Ref]bool, len(q.pending))
	for ref := range q.pending {
		newer[ref] = true
	}
	var back []hubproto.Ref
	for seq := uint64(1); seq <= q.seq; seq++ {
		for _, u := range q.inflight[seq] {
			if newer[u.Ref] {
				continue
			}
			if _, again := q.pending[u.Ref]; !again {
				back = append(back, u.Ref)
			}
			q.pending[u.Ref] = u
		}
	}
	// a ref sent in two frames was appended once (the second time it is already pending) and
	// holds the later frame's update.
	q.order = append(back, q.order...)
	q.inflight = map[uint64][]hubproto.StatusUpdate{}
	q.seq = 0
	if len(q.order) > 0 {
		q.signal()
	}
}

// len returns the number of pending and in-flight updates.
func (q *statusQueue) len() (pending, inflight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range q.inflight {
		inflight += len(b)
	}
	return len(q.pending), inflight
}

func (q *statusQueue) signal() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}
