package stream

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// The CRI log format, one record per line, as containerd writes it:
//
//	2026-11-22T06:05:43.123456789Z stdout F the content\n
//
// timestamp (RFC 3339 with nanoseconds), stream (stdout or stderr), tag
// (F: the record ends a line; P: a partial line continued by the next
// record of the same stream; containerd splits long lines this way), then
// the content up to the newline. Tags may carry more ':'-separated flags
// after the first letter; only the first one matters.
const (
	streamStdout = "stdout"
	streamStderr = "stderr"
	tagFull      = 'F'
	tagPartial   = 'P'
)

var errMalformed = errors.New("malformed CRI log record")

// record is one parsed line of a CRI log file; content aliases the input.
type record struct {
	ts      time.Time
	stream  string
	partial bool
	content []byte
}

// parseRecord parses one line without its trailing newline.
func parseRecord(line []byte) (record, error) {
	var r record
	tsEnd := bytes.IndexByte(line, ' ')
	if tsEnd <= 0 {
		return r, fmt.Errorf("%w: no timestamp", errMalformed)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:tsEnd]))
	if err != nil {
		return r, fmt.Errorf("%w: timestamp: %v", errMalformed, err)
	}
	rest := line[tsEnd+1:]
	stEnd := bytes.IndexByte(rest, ' ')
	if stEnd <= 0 {
		return r, fmt.Errorf("%w: no stream", errMalformed)
	}
	switch st := string(rest[:stEnd]); st {
	case streamStdout, streamStderr:
		r.stream = st
	default:
		return r, fmt.Errorf("%w: unknown stream %q", errMalformed, st)
	}
	rest = rest[stEnd+1:]
	tagEnd := bytes.IndexByte(rest, ' ')
	var tag []byte
	if tagEnd < 0 {
		tag, rest = rest, nil // an empty line has no space after the tag
	} else {
		tag, rest = rest[:tagEnd], rest[tagEnd+1:]
	}
	if len(tag) == 0 {
		return r, fmt.Errorf("%w: no tag", errMalformed)
	}
	switch tag[0] {
	case tagFull:
	case tagPartial:
		r.partial = true
	default:
		return r, fmt.Errorf("%w: unknown tag %q", errMalformed, tag)
	}
	r.ts, r.content = ts, rest
	return r, nil
}
