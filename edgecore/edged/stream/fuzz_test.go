package stream

import (
	"bytes"
	"strings"
	"testing"
)

// lastLines joins the records of data from off on and keeps the last n
// lines, as serveLogs' first pass does.
func lastLines(data []byte, off int64, n int, o *logOptions) []string {
	j := newLineJoiner(o)
	var out []string
	for _, l := range bytes.Split(data[off:], []byte("\n")) {
		r, err := parseRecord(l)
		if err != nil {
			continue
		}
		if ln, ok := j.add(r); ok {
			out = append(out, string(ln.data))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// FuzzTailOffset checks that starting at tailOffset yields the same last n
// lines as reading the whole file, whatever the file holds, and that
// parsing never panics.
func FuzzTailOffset(f *testing.F) {
	ts := "2026-11-22T06:05:43.1Z "
	f.Add(ts+"stdout F a\n"+ts+"stderr P b\n"+ts+"stdout F c\n"+ts+"stderr F d\n", uint8(1), uint8(0))
	f.Add(ts+"stdout P x\n"+ts+"stdout P y\ngarbage\n"+ts+"stdout F z", uint8(2), uint8(1))
	f.Add("\n\n\n"+ts+"stderr F only\n", uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, data string, n uint8, streams uint8) {
		o := &logOptions{stdout: streams%3 != 2, stderr: streams%3 != 1}
		// Bigger than one chunk now and then, to cross chunk boundaries.
		if n%5 == 0 {
			data = strings.Repeat(data, 1+tailChunk/(len(data)+1))
		}
		b := []byte(data)
		off, err := tailOffset(bytes.NewReader(b), int64(len(b)), int64(n), o.wants)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		want := lastLines(b, 0, int(n), o)
		got := lastLines(b, off, int(n), o)
		if strings.Join(got, "") != strings.Join(want, "") {
			t.Fatalf("tail %d from %d: got %q, want %q", n, off, got, want)
		}
	})
}
