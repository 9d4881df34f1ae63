package edged

import "errors"

// Sentinel errors.
var (
	// ErrInvalidOptions reports Options that cannot work.
	ErrInvalidOptions = errors.New("edged: invalid options")
	// ErrNotFound is a pod or container the resolver does not know.
	ErrNotFound = errors.New("edged: not found")
	// errWaiting marks a sync that must be retried (pull back-off, missing object): the
	// status already says why, the workqueue retries with its rate limiter.
	errWaiting = errors.New("edged: waiting")
)
