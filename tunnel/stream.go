package tunnel

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream is one bidirectional byte stream to a peer: a QUIC stream, so it has its own flow
// control and loses nothing when other streams of the same peer stall.
type Stream interface {
	net.Conn
	// CloseWrite half-closes: the peer reads EOF after the data written so far; reading
	// continues.
	CloseWrite() error
	// CloseRead stops reading; the peer's writes fail.
	CloseRead() error
	// Peer is the verified node name of the other end.
	Peer() string
	// Header is what the dialer passed to Dial.
	Header() []byte
	// Path is the path the stream's connection takes (direct or relay) at open time.
	Path() PathKind
}

// Stream header on the wire: the first bytes of every stream the dialer opens.
//
//	+--------------------+---------------------------+-----------------
//	| length: uint16, BE | header: length bytes      | stream data ...
//	+--------------------+---------------------------+-----------------
//
// The header is opaque to the tunnel (callers put e.g. the target service and port in it).
// It is bounded by Options.MaxHeaderSize; a longer or truncated one resets the stream.
const streamHeaderLen = 2

// Stream reset codes.
const (
	streamCodeBadHeader quic.StreamErrorCode = 1
	streamCodeRefused   quic.StreamErrorCode = 2
	streamCodeClosed    quic.StreamErrorCode = 3
)

type stream struct {
	s      *quic.Stream
	local  net.Addr
	remote net.Addr
	peer   string
	header []byte
	path   PathKind
}

func newStream(s *quic.Stream, pc *pconn, peer string, header []byte) *stream {
	return &stream{s: s, local: pc.conn.LocalAddr(), remote: pc.conn.RemoteAddr(), peer: peer,
		header: header, path: pc.path.kind}
}

func (s *stream) Read(b []byte) (int, error)  { return s.s.Read(b) }
func (s *stream) Write(b []byte) (int, error) { return s.s.Write(b) }

// Close closes both directions: a FIN after pending data, and STOP_SENDING for the rest.
func (s *stream) Close() error {
	s.s.CancelRead(streamCodeClosed)
	return s.s.Close()
}

func (s *stream) CloseWrite() error                  { return s.s.Close() }
func (s *stream) CloseRead() error                   { s.s.CancelRead(streamCodeClosed); return nil }
func (s *stream) LocalAddr() net.Addr                { return s.local }
func (s *stream) RemoteAddr() net.Addr               { return s.remote }
func (s *stream) SetDeadline(t time.Time) error      { return s.s.SetDeadline(t) }
func (s *stream) SetReadDeadline(t time.Time) error  { return s.s.SetReadDeadline(t) }
func (s *stream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }
func (s *stream) Peer() string                       { return s.peer }
func (s *stream) Header() []byte                     { return s.header }
func (s *stream) Path() PathKind                     { return s.path }

func writeHeader(w io.Writer, header []byte) error {
	buf := make([]byte, streamHeaderLen+len(header))
	binary.BigEndian.PutUint16(buf, uint16(len(header)))
	copy(buf[streamHeaderLen:], header)
	_, err := w.Write(buf)
	return err
}

func readHeader(r io.Reader, maxSize int) ([]byte, error) {
	var l [streamHeaderLen]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n > maxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrHeaderTooLarge, n)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, err
	}
	return h, nil
}
