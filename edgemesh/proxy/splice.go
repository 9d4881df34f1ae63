package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// errIdle ends a connection that saw no traffic for the idle timeout.
var errIdle = errors.New("idle timeout")

// copyBufSize is the pooled buffer size for conns without the splice fast path.
const copyBufSize = 32 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

type closeWriter interface{ CloseWrite() error }

// noSplice makes copyConn use the buffered path even between two *net.TCPConn; the
// benchmark flips it to compare both paths.
var noSplice atomic.Bool

// Splice is splice for other packages: the agent's tunnel end uses it between a peer's
// stream and the local endpoint.
func Splice(a, b net.Conn, idle time.Duration) (aToB, bToA int64) { return splice(a, b, idle) }

// splice copies both ways between client and backend until both directions end, then
// closes both. A clean EOF on one side is passed on as a half-close (CloseWrite) when the
// other side supports it; an error, or a side without CloseWrite, tears the pair down.
// With idle > 0 the pair is closed after idle without traffic either way.
func splice(client, backend net.Conn, idle time.Duration) (toBackend, toClient int64) {
	var st idleState
	st.active[0].Store(true)
	st.active[1].Store(true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		toClient = pipe(client, backend, idle, &st, 1)
	}()
	toBackend = pipe(backend, client, idle, &st, 0)
	wg.Wait()
	client.Close()
	backend.Close()
	return toBackend, toClient
}

// idleState tells whether each direction moved data in its last idle period.
type idleState struct{ active [2]atomic.Bool }

// pipe copies src to dst and reports the bytes copied.
func pipe(dst, src net.Conn, idle time.Duration, st *idleState, dir int) int64 {
	n, err := copyIdle(dst, src, idle, st, dir)
	st.active[dir].Store(false)
	if err == nil {
		if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
			return n
		}
	}
	dst.Close()
	src.Close()
	return n
}

// copyIdle is copyConn in periods of idle: a period without data in this direction ends
// the copy with errIdle if the other direction's last period was idle too.
func copyIdle(dst, src net.Conn, idle time.Duration, st *idleState, dir int) (int64, error) {
	if idle <= 0 {
		return copyConn(dst, src)
	}
	var total int64
	for {
		if err := src.SetReadDeadline(time.Now().Add(idle)); err != nil {
			// A conn without deadlines (some tunnel streams): no idle timeout for it.
			n, err := copyConn(dst, src)
			return total + n, err
		}
		n, err := copyConn(dst, src)
		total += n
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return total, err
		}
		if n > 0 {
			st.active[dir].Store(true)
			continue
		}
		st.active[dir].Store(false)
		if !st.active[1-dir].Load() {
			return total, errIdle
		}
	}
}

// copyConn copies with the kernel's splice when both ends are *net.TCPConn, and through a
// pooled buffer otherwise (hiding ReadFrom/WriteTo, which would allocate their own).
func copyConn(dst, src net.Conn) (int64, error) {
	_, dt := dst.(*net.TCPConn)
	_, st := src.(*net.TCPConn)
	if dt && st && !noSplice.Load() {
		return io.Copy(dst, src)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }
