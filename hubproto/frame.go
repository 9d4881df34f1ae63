package hubproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Subprotocol is the websocket subprotocol of a hub session.
const Subprotocol = "outpost.hub.v1"

// MaxFrameSize bounds one control frame's payload: a sync batch of a few hundred pods fits with
// room, and a broken peer cannot make the receiver buffer more.
const MaxFrameSize = 4 << 20

// Window is the default number of unacknowledged sync batches in flight per node.
const Window = 8

// frameHeaderLen is the length prefix of a control frame.
const frameHeaderLen = 4

// Type is a Frame's kind.
type Type string

// Frame types.
const (
	TypeHello  Type = "hello"
	TypeSync   Type = "sync"
	TypeAck    Type = "ack"
	TypeStatus Type = "status"
	TypeError  Type = "error"
)

// Op is what a Change does.
type Op string

// Change operations.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
)

// Frame is one control message.
type Frame struct {
	Type Type `json:"type"`
	// Seq numbers TypeSync and TypeStatus frames (per direction, from 1) and names the frame a
	// TypeAck acknowledges.
	Seq uint64 `json:"seq,omitempty"`
	// Hello is set on TypeHello.
	Hello *Hello `json:"hello,omitempty"`
	// Changes are set on TypeSync.
	Changes []Change `json:"changes,omitempty"`
	// Status is set on TypeStatus.
	Status []StatusUpdate `json:"status,omitempty"`
	// Error is set on TypeError.
	Error string `json:"error,omitempty"`
}

// Hello opens a session.
type Hello struct {
	// Node is the edge node's name; it must match the client certificate.
	Node string `json:"node"`
	// Inventory is every object the edge holds, with the cloud resourceVersion it has.
	Inventory []Held `json:"inventory"`
}

// Held is one object in an inventory.
type Held struct {
	Ref
	ResourceVersion string `json:"rv"`
}

// Ref names an object: Resource is "group/version/resource" ("/v1/pods" for the core group).
type Ref struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Change is one object change for the edge.
type Change struct {
	Ref
	Op Op `json:"op"`
	// ResourceVersion is the object's resourceVersion in the cloud.
	ResourceVersion string `json:"rv"`
	// Object is the object's JSON (upserts; optional for deletes).
	Object json.RawMessage `json:"object,omitempty"`
}

// StatusUpdate is one status write from the edge: the object's JSON with the status to set
// (for pods and nodes: the status subresource; for leases and events: the whole object).
type StatusUpdate struct {
	Ref
	Object json.RawMessage `json:"object"`
	// Finalize (pods only) says the edge has stopped every container of a pod that is being
	// deleted: the cloud applies the status, then deletes the pod with grace period 0 and the
	// object's metadata.uid as precondition, as the kubelet does (a newer pod of the same name
	// is never touched).
	Finalize bool `json:"finalize,omitempty"`
}

// Sentinel errors of the framing layer.
var (
	// ErrFrameTooLarge is a length prefix of 0 or above the limit.
	ErrFrameTooLarge = errors.New("hubproto: frame too large")
	// ErrMalformedFrame is a payload that is not a valid Frame.
	ErrMalformedFrame = errors.New("hubproto: malformed frame")
)

// WriteFrame writes f with its length prefix in one Write call.
func WriteFrame(w io.Writer, f *Frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("hubproto: encode %s frame: %w", f.Type, err)
	}
	buf := make([]byte, frameHeaderLen+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[frameHeaderLen:], b)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame of at most max payload bytes (0: MaxFrameSize) and checks it.
func ReadFrame(r io.Reader, max int) (*Frame, error) {
	if max <= 0 {
		max = MaxFrameSize
	}
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n == 0 || n > uint32(max) {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedFrame, err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks that a frame has what its type needs.
func (f *Frame) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s frame %s", ErrMalformedFrame, f.Type, why) }
	switch f.Type {
	case TypeHello:
		if f.Hello == nil || f.Hello.Node == "" {
			return bad("without node")
		}
	case TypeSync, TypeStatus:
		if f.Seq == 0 {
			return bad("without seq")
		}
		for _, c := range f.Changes {
			if c.Name == "" || c.Resource == "" || (c.Op != OpUpsert && c.Op != OpDelete) || (c.Op == OpUpsert && len(c.Object) == 0) {
				return bad(fmt.Sprintf("with an invalid change %+v", c.Ref))
			}
		}
		for _, s := range f.Status {
			if s.Name == "" || s.Resource == "" || len(s.Object) == 0 {
				return bad(fmt.Sprintf("with an invalid status update %+v", s.Ref))
			}
		}
	case TypeAck:
		if f.Seq == 0 {
			return bad("without seq")
		}
	case TypeError:
	default:
		return fmt.Errorf("%w: unknown type %q", ErrMalformedFrame, f.Type)
	}
	return nil
}
