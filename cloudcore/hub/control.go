package hub

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/outpostmesh/outpost/hubproto"
)

// newSession builds the session of an accepted Hello.
func (h *Hub) newSession(node string, mux *yamux.Session, ctrl *yamux.Stream) *Session {
	s := &Session{
		node:    node,
		hub:     h,
		mux:     mux,
		ctrl:    ctrl,
		logger:  h.opts.Logger.WithValues("node", node),
		slots:   make(chan struct{}, h.opts.Window),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		unacked: make(map[uint64]struct{}),
	}
	s.lastPong.Store(time.Now().UnixNano())
	return s
}

// readLoop reads control frames until the session ends and returns why it ended.
func (s *Session) readLoop() error {
	h := s.hub
	for {
		f, err := hubproto.ReadFrame(s.ctrl, h.opts.MaxFrameSize)
		if err != nil {
			select {
			case <-s.done: // closed by us: Close, replacement, heartbeat or write failure
				return s.Err()
			default:
			}
			if reason := frameErrorReason(err); reason != "" {
				h.refuse(reason, s.node, err)
				h.sendError(s.ctrl, err)
			}
			return fmt.Errorf("hub: read from %s: %w", s.node, err)
		}
		h.metrics.framesIn.WithLabelValues(string(f.Type)).Inc()
		switch f.Type {
		case hubproto.TypeAck:
			if s.acked(f.Seq) {
				h.opts.Handler.Acked(s, f.Seq)
			} else {
				s.logger.V(2).Info("Ignoring ack of a batch not in flight", "seq", f.Seq)
			}
		case hubproto.TypeStatus:
			h.opts.Handler.Status(s, f.Seq, f.Status)
		case hubproto.TypeError:
			return fmt.Errorf("hub: %s reported: %s", s.node, f.Error)
		default:
			err := fmt.Errorf("hub: unexpected %s frame from %s", f.Type, s.node)
			h.refuse(reasonUnexpected, s.node, err)
			h.sendError(s.ctrl, err)
			return err
		}
	}
}

// writeLoop writes queued frames in order until the session ends.
func (s *Session) writeLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		out, types := s.out, s.outType
		s.out, s.outType = nil, nil
		s.mu.Unlock()
		for i, b := range out {
			_ = s.ctrl.SetWriteDeadline(time.Now().Add(s.hub.opts.WriteTimeout))
			if _, err := s.ctrl.Write(b); err != nil {
				s.closeWith(fmt.Errorf("hub: write to %s: %w", s.node, err))
				return
			}
			s.hub.metrics.framesOut.WithLabelValues(string(types[i])).Inc()
		}
	}
}

// errHeartbeat ends a session whose peer stopped answering pings.
var errHeartbeat = errors.New("hub: heartbeat timeout")
