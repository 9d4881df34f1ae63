package stream

import (
	"bytes"
	"fmt"
	"io"
)

// tailChunk is how much of the file is read per step backwards.
const tailChunk = 32 << 10

// tailOffset returns where reading must start so that the last n logical
// lines of the wanted streams are read, scanning backwards from size in
// chunks instead of reading the whole file.
//
// A logical line is the P records of one stream up to the F record that
// ends it; lines of stdout and stderr may interleave. The tail is the last
// n F records (and any trailing P records still waiting for theirs); the
// offset is that of the earliest record belonging to a tail line. Older
// lines that start after the offset are dropped by the caller, which keeps
// only the last n complete lines. A trailing record without a newline (being
// written) counts like any other; malformed records are skipped.
func tailOffset(f io.ReaderAt, size int64, n int64, wants func(stream string) bool) (int64, error) {
	if n <= 0 {
		return size, nil
	}
	var (
		count int64
		start = size
		pos   = size // file offset of data[0]
		carry []byte // start of the record cut by the previous chunk boundary
		// skipping: the record cut by the chunk boundary outgrew
		// maxRecord; its earlier part is dropped, not accumulated.
		skipping bool
		// inTail: the next F of the stream (later in the file) is in the
		// tail, so its earlier P records are too. open: a tail line of the
		// stream may still have records further back.
		inTail = map[string]bool{streamStdout: true, streamStderr: true}
		open   = map[string]bool{}
	)
	done := func() bool { return count > n && !open[streamStdout] && !open[streamStderr] }
	for pos > 0 {
		step := min(int64(tailChunk), pos)
		pos -= step
		data := make([]byte, step, int(step)+len(carry))
		if _, err := f.ReadAt(data, pos); err != nil && err != io.EOF {
			return 0, fmt.Errorf("stream: read log for tail: %w", err)
		}
		data = append(data, carry...)
		end := len(data) // exclusive end of the record being examined
		for {
			i := bytes.LastIndexByte(data[:end], '\n')
			if i < 0 && pos > 0 {
				carry = data[:end] // its start lies in an earlier chunk
				if skipping || len(carry) > maxRecord {
					carry, skipping = nil, true
				}
				break
			}
			if skipping {
				skipping = false // the start of an oversized record
			} else if r, err := parseRecord(data[i+1 : end]); err == nil && wants(r.stream) {
				if !r.partial {
					count++
					inTail[r.stream] = count <= n
				}
				if inTail[r.stream] {
					start, open[r.stream] = pos+int64(i+1), true
				} else {
					open[r.stream] = false
				}
				if done() {
					return start, nil
				}
			}
			if i < 0 {
				return 0, nil
			}
			end = i
		}
	}
	return 0, nil
}
