package hub

import "errors"

// Sentinel errors callers decide on.
var (
	// ErrNotConnected means the node has no session.
	ErrNotConnected = errors.New("hub: node not connected")
	// ErrSessionClosed means the session ended before the operation completed.
	ErrSessionClosed = errors.New("hub: session closed")
	// ErrWindowFull means Window sync batches are already unacknowledged (TrySend only).
	ErrWindowFull = errors.New("hub: window full")
	// ErrBatchTooLarge means an encoded sync frame is above the frame size limit; split it.
	ErrBatchTooLarge = errors.New("hub: batch too large")
	// ErrEmptyBatch means Send was called without changes.
	ErrEmptyBatch = errors.New("hub: empty batch")
	// ErrBadOptions means New was given unusable Options.
	ErrBadOptions = errors.New("hub: bad options")
)
