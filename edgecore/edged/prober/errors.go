package prober

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrInvalidProbe wraps every Validate failure.
	ErrInvalidProbe = errors.New("invalid probe")
	// ErrUnsupported wraps a probe handler this build cannot run.
	ErrUnsupported = errors.New("unsupported probe handler")
	// ErrNoExecer is returned by exec probes when Options.Exec is nil.
	ErrNoExecer = errors.New("no execer configured")
	// ErrPortNotFound is returned when a named port is not declared by the container.
	ErrPortNotFound = errors.New("named port not found")
)
