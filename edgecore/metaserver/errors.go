package metaserver

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these with the
// operation: "metaserver: op: %w".
var (
	// ErrInvalidOptions reports options that cannot work (no store...).
	ErrInvalidOptions = errors.New("invalid options")
)
