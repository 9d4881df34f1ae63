package volume

import "errors"

// Sentinel errors; callers (edged) turn them into pod status messages.
var (
	// ErrMissingObject is a non-optional ConfigMap, Secret or key that is not on the node yet.
	ErrMissingObject = errors.New("volume: referenced object missing")
	// ErrNoTokenSource is a projected service account token without a TokenSource.
	ErrNoTokenSource = errors.New("volume: no service account token source configured")
	// ErrInvalidVolume is a volume spec that cannot be set up (bad path, bad hostPath type).
	ErrInvalidVolume = errors.New("volume: invalid volume")
	// ErrUnsupported is a volume type edged does not implement.
	ErrUnsupported = errors.New("volume: unsupported volume type")
	// ErrInvalidOptions reports Options that cannot work.
	ErrInvalidOptions = errors.New("volume: invalid options")
)
