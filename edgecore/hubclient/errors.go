package hubclient

import "errors"

// Sentinel errors, wrapped with the operation: "hubclient: op: %w".
var (
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrStatusQueueFull reports that SendStatus would exceed MaxPendingStatus distinct
	// objects; nothing of that call was queued.
	ErrStatusQueueFull = errors.New("status queue full")
	// ErrProtocol reports a frame from the cloud that breaks the protocol: malformed, of a type
	// the cloud must not send, or a batch the store refuses. The session is closed.
	ErrProtocol = errors.New("protocol error")
	// ErrCloudError reports a TypeError frame from the cloud.
	ErrCloudError = errors.New("cloud reported an error")
	// ErrSubprotocol reports a hub that did not agree on hubproto.Subprotocol.
	ErrSubprotocol = errors.New("hub did not accept the subprotocol")
	// ErrClosed reports use of a closed client.
	ErrClosed = errors.New("client closed")
)

// errDial marks a failure to reach the hub (for metrics): "hubclient: dial URL: why".
var errDial = errors.New("hubclient: dial")
