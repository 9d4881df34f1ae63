package probe

import (
	"encoding/binary"
	"io"
	"time"
)

// The first byte a client writes on every stream picks what Serve does with it.
//
//	'S' sink: read to EOF, answer the byte count (uint64, big endian), close.
//	'E' echo: copy everything back, half-close at EOF.
//	'R' request: read one ReqSize-byte request, answer ReqSize bytes, close first (so the
//	    TIME_WAIT lands on the server, not on the client's ephemeral ports).
const (
	ModeSink    = 'S'
	ModeEcho    = 'E'
	ModeRequest = 'R'
	ReqSize     = 64
)

// Serve is the server side of every path the benchmarks measure.
func Serve(s Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(2 * time.Minute)) // nothing here lasts longer
	var mode [1]byte
	if _, err := io.ReadFull(s, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case ModeSink:
		n, err := io.CopyBuffer(io.Discard, readerOnly{s}, make([]byte, 64<<10))
		if err != nil {
			return
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		_, _ = s.Write(b[:])
		_ = s.CloseWrite()
	case ModeEcho:
		_, _ = io.CopyBuffer(s, readerOnly{s}, make([]byte, 4<<10))
		_ = s.CloseWrite()
	case ModeRequest:
		var req [ReqSize]byte
		if _, err := io.ReadFull(s, req[:]); err != nil {
			return
		}
		_, _ = s.Write(req[:])
	}
}

// readerOnly hides a stream's WriterTo/ReaderFrom, so every path is measured through the same
// plain read/write loop.
type readerOnly struct{ io.Reader }
