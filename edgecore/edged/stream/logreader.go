package stream

import (
	"bytes"
	"io"
	"os"
)

const (
	// readBuf is the read size of the log reader; records longer than that
	// are assembled across reads.
	readBuf = 32 << 10
	// maxRecord bounds a record kept in memory. containerd splits lines into
	// 16 KiB records, so a longer one is not a CRI record: it is dropped up
	// to its newline instead of growing a buffer without end.
	maxRecord = 1 << 20
)

// logReader reads records from a log file from an offset on, keeping an
// unterminated last record until its newline arrives (a followed file is
// being written while we read it).
type logReader struct {
	f    *os.File
	off  int64
	rest []byte // bytes after the last newline read
	buf  []byte
	// skipping: rest outgrew maxRecord; drop bytes up to the next newline.
	skipping bool
}

// next reads what the file has now and calls fn for each complete line;
// it returns io.EOF (after the calls) when the file has nothing more.
func (lr *logReader) next(fn func(line []byte) error) error {
	if lr.buf == nil {
		lr.buf = make([]byte, readBuf)
	}
	for {
		n, err := lr.f.ReadAt(lr.buf, lr.off)
		lr.off += int64(n)
		data := lr.buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if !lr.skipping {
					lr.rest = append(lr.rest, data...)
				}
				if len(lr.rest) > maxRecord {
					lr.rest, lr.skipping = lr.rest[:0], true
				}
				break
			}
			if lr.skipping {
				lr.skipping = false
				data = data[i+1:]
				continue
			}
			l := data[:i]
			if len(lr.rest) > 0 {
				lr.rest = append(lr.rest, l...)
				l = lr.rest
			}
			if ferr := fn(l); ferr != nil {
				return ferr
			}
			lr.rest = lr.rest[:0]
			data = data[i+1:]
		}
		if err == io.EOF || (err == nil && n == 0) {
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
}

// flushRest hands over an unterminated last record, for a file that will
// not grow any more.
func (lr *logReader) flushRest(fn func(line []byte) error) error {
	if len(lr.rest) == 0 || lr.skipping {
		return nil
	}
	l := lr.rest
	lr.rest = nil
	return fn(l)
}
