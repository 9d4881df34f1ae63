package stream

import (
	"errors"
	"io"
	"time"
)

// errLimitReached ends a log response once limitBytes were written.
var errLimitReached = errors.New("limitBytes reached")

// line is one logical log line: partial records joined, newline included.
type line struct {
	ts   time.Time
	data []byte
}

// lineJoiner turns records into logical lines: a P record is held until the
// record ending its line arrives on the same stream; the line keeps the
// timestamp of its first record.
type lineJoiner struct {
	opts    *logOptions
	pending map[string]*line
}

func newLineJoiner(o *logOptions) *lineJoiner {
	return &lineJoiner{opts: o, pending: map[string]*line{}}
}

// add consumes r and returns a completed line (ok) that passes the stream
// and since filters.
func (j *lineJoiner) add(r record) (line, bool) {
	if !j.opts.wants(r.stream) {
		return line{}, false
	}
	p := j.pending[r.stream]
	if p == nil {
		p = &line{ts: r.ts}
	}
	p.data = append(p.data, r.content...)
	if r.partial {
		j.pending[r.stream] = p
		return line{}, false
	}
	delete(j.pending, r.stream)
	p.data = append(p.data, '\n')
	if !j.opts.since.IsZero() && p.ts.Before(j.opts.since) {
		return line{}, false
	}
	return *p, true
}

// lineWriter writes lines with the optional timestamp prefix and stops at
// limitBytes (the last line cut short, as the kubelet does).
type lineWriter struct {
	w          io.Writer
	timestamps bool
	left       int64 // -1: unlimited
	buf        []byte
}

func (lw *lineWriter) write(l line) error {
	b := lw.buf[:0]
	if lw.timestamps {
		b = l.ts.AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
	}
	b = append(b, l.data...)
	lw.buf = b
	if lw.left >= 0 && int64(len(b)) >= lw.left {
		b = b[:lw.left]
		lw.left = 0
		if _, err := lw.w.Write(b); err != nil {
			return err
		}
		return errLimitReached
	}
	if lw.left > 0 {
		lw.left -= int64(len(b))
	}
	_, err := lw.w.Write(b)
	return err
}
