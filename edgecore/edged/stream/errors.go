package stream

import "errors"

// Sentinel errors.
var (
	// ErrNotFound is what a Resolver wraps when the pod or container does
	// not exist (or has no previous instance); the client gets 404.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest wraps invalid paths and query parameters; the client gets 400.
	ErrBadRequest = errors.New("bad request")
	// ErrNotSupported is returned when the Resolver cannot answer a request
	// kind (port-forward without a SandboxResolver); the client gets 501.
	ErrNotSupported = errors.New("not supported")
)
