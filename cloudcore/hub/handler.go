package hub

import "github.com/outpostmesh/outpost/hubproto"

// Handler receives a hub's session events. The hub calls it from the session's control reader
// goroutine: methods must not block for long (queue work and return), or the node's acks and
// heartbeats wait. Calls for one session are sequential: Connected, then any Acked and Status,
// then Disconnected. Sessions of one node may overlap briefly when a new one replaces the old:
// the new session's Connected can come before the old one's Disconnected.
type Handler interface {
	// Connected reports a session whose Hello was accepted. hello.Node is s.Node().
	Connected(s *Session, hello *hubproto.Hello)
	// Acked reports that the edge acknowledged the sync batch seq that s sent.
	Acked(s *Session, seq uint64)
	// Status delivers a status frame. The handler must call s.AckStatus(seq) once the updates
	// are applied or permanently refused; without an ack the edge sends them again next session.
	Status(s *Session, seq uint64, updates []hubproto.StatusUpdate)
	// Disconnected reports the end of s; err says why (nil for a hub shutdown).
	Disconnected(s *Session, err error)
}
