package tunnel

import "errors"

var (
	// ErrClosed means the agent was closed.
	ErrClosed = errors.New("tunnel: agent closed")
	// ErrNotStarted means Start has not been called.
	ErrNotStarted = errors.New("tunnel: agent not started")
	// ErrNoPath means no connection to the peer could be made before the context ended: the
	// peer is not registered on any reachable relay and not heard on the LAN.
	ErrNoPath = errors.New("tunnel: no path to peer")
	// ErrPeerIdentity means a peer's certificate was refused: not from the cluster CA,
	// expired, not a node identity, or naming another node than expected.
	ErrPeerIdentity = errors.New("tunnel: peer identity refused")
	// ErrHeaderTooLarge means a stream header exceeds Options.MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("tunnel: stream header too large")
	// ErrSelf means a dial to the agent's own node name.
	ErrSelf = errors.New("tunnel: dial to self")
	// ErrBadAnnouncement means a LAN announcement failed verification.
	ErrBadAnnouncement = errors.New("tunnel: bad LAN announcement")
)
