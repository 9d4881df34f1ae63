package edgecontroller

import "errors"

var (
	// ErrRefused marks a status update refused for good (not the node's own object, unknown
	// resource, invalid object): it is acknowledged and counted, never retried.
	ErrRefused = errors.New("edgecontroller: status update refused")
	// ErrBadOptions means New was given unusable Options.
	ErrBadOptions = errors.New("edgecontroller: bad options")
)
