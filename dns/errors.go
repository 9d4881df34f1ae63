package dns

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or an
// error from the layer below) with the operation: "dns: op: %w".
var (
	// ErrInvalidOptions reports options that cannot work (no catalog, a bad zone...).
	ErrInvalidOptions = errors.New("invalid options")
	// ErrNoListeners reports a server given no address and no socket to serve on.
	ErrNoListeners = errors.New("no listeners")
	// ErrClosed reports use of a closed server or handler.
	ErrClosed = errors.New("closed")
	// ErrNoUpstream reports that no upstream resolver is configured, or that all
	// were skipped because they point back at this server.
	ErrNoUpstream = errors.New("no upstream resolver")
	// ErrUpstream reports that every upstream failed or timed out for a query.
	ErrUpstream = errors.New("upstream failed")
)
