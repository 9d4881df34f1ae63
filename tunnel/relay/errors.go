package relay

import "errors"

var (
	// ErrFrameTooLarge means a signalling frame announced a payload above the size limit (or of
	// size zero); the session is closed.
	ErrFrameTooLarge = errors.New("relay: frame size out of range")
	// ErrMalformedFrame means a frame's payload is not a valid signalling message; the session
	// is closed.
	ErrMalformedFrame = errors.New("relay: malformed frame")
	// ErrUnauthenticated means the signalling peer presented no valid node certificate.
	ErrUnauthenticated = errors.New("relay: peer is not an authenticated node")
	// ErrPeerOffline means a signal's addressee has no session on this relay.
	ErrPeerOffline = errors.New("relay: peer offline")
	// ErrRateLimited means a session sent signals faster than the relay allows; the signal
	// was dropped.
	ErrRateLimited = errors.New("relay: signal rate limited")
	// ErrClosed means the client or server was closed.
	ErrClosed = errors.New("relay: closed")
)
