package relay

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// The signalling channel is TLS 1.3 over TCP. The agent presents its node certificate (CN
// "system:node:NAME", O "system:nodes", from the cluster CA); the relay presents a serving
// certificate from the same CA. On it flow frames in both directions:
//
//	+--------------------+------------------------------------+
//	| length: uint32, BE | payload: one JSON Message, length  |
//	|                    | bytes, UTF-8                       |
//	+--------------------+------------------------------------+
//
// length counts the payload only. A length of 0 or above the receiver's limit
// (DefaultMaxFrameSize unless configured) is ErrFrameTooLarge; a payload that is not a JSON
// object with a known Type is ErrMalformedFrame. Both close the session: a peer that breaks
// framing once cannot be trusted to be in sync afterwards.
//
// Conversation: the relay speaks first with one TypeWelcome (TURN address and credentials for
// the authenticated node). Afterwards the agent sends TypeSignal frames with To set; the relay
// overwrites From with the sender's authenticated name and forwards the frame unchanged to the
// addressee's session, or answers TypeError (Error "peer offline", ID and To of the signal)
// if there is none. Either side may send TypePing; the other answers TypePong. A session that
// is silent for the relay's idle timeout is closed, so agents ping more often than that.
const (
	// frameHeaderLen is the size of the length prefix.
	frameHeaderLen = 4
	// DefaultMaxFrameSize bounds one frame's payload: an ICE offer with a dozen candidates is
	// about 2 KB, so 64 KiB leaves room while bounding what a broken peer makes us buffer.
	DefaultMaxFrameSize = 64 << 10

	// TypeWelcome is the relay's first frame (Welcome set).
	TypeWelcome = "welcome"
	// TypeSignal carries an opaque Payload from one agent (From) to another (To).
	TypeSignal = "signal"
	// TypeError reports a signal that could not be delivered (ID, To and Error set).
	TypeError = "error"
	// TypePing asks for a TypePong; both keep NAT and idle timers alive.
	TypePing = "ping"
	// TypePong answers TypePing.
	TypePong = "pong"
)

// Message is one signalling frame's payload.
type Message struct {
	// Type is one of the Type constants.
	Type string `json:"type"`
	// ID identifies a signal end to end; agents send the same signal through every relay
	// and drop duplicates by ID.
	ID string `json:"id,omitempty"`
	// From is the authenticated sender, set by the relay (whatever the sender put there).
	From string `json:"from,omitempty"`
	// To is the addressee's node name.
	To string `json:"to,omitempty"`
	// Payload is the signal, opaque to the relay.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Welcome is set in TypeWelcome.
	Welcome *Welcome `json:"welcome,omitempty"`
	// Error is set in TypeError.
	Error string `json:"error,omitempty"`
}

// Welcome tells an authenticated agent who it is to the relay and how to use its TURN server.
type Welcome struct {
	// RelayID names the relay; agents key TURN allocations and relayed addresses by it.
	RelayID string `json:"relayID"`
	// Node is the agent's node name as read from its certificate.
	Node string `json:"node"`
	// TURNAddr is the STUN/TURN UDP address ("ip:port").
	TURNAddr string `json:"turnAddr"`
	// Username and Password are TURN REST-API credentials valid until Expires.
	Username string    `json:"username"`
	Password string    `json:"password"`
	Realm    string    `json:"realm"`
	Expires  time.Time `json:"expires"`
}

func (m *Message) validate() error {
	switch m.Type {
	case TypeWelcome:
		if m.Welcome == nil {
			return fmt.Errorf("%w: welcome without body", ErrMalformedFrame)
		}
	case TypeSignal:
		if m.To == "" && m.From == "" {
			return fmt.Errorf("%w: signal without addressee", ErrMalformedFrame)
		}
	case TypeError, TypePing, TypePong:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrMalformedFrame, m.Type)
	}
	return nil
}

// WriteFrame writes m as one frame; it refuses messages larger than maxSize (0: default).
func WriteFrame(w io.Writer, m *Message, maxSize int) error {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("relay: encode %s frame: %w", m.Type, err)
	}
	if len(payload) > maxSize {
		return fmt.Errorf("relay: write %s frame of %d bytes: %w", m.Type, len(payload), ErrFrameTooLarge)
	}
	buf := make([]byte, frameHeaderLen+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[frameHeaderLen:], payload)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame; frames of size 0 or above maxSize (0: default) and payloads that
// are not valid messages are errors wrapping ErrFrameTooLarge or ErrMalformedFrame.
func ReadFrame(r io.Reader, maxSize int) (*Message, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > uint32(maxSize) {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, maxSize)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("relay: read frame payload: %w", err)
	}
	m := new(Message)
	if err := json.Unmarshal(payload, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedFrame, err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}
