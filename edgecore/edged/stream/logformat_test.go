package stream

import (
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	ts := "2026-11-22T06:05:43.123456789Z"
	want, _ := time.Parse(time.RFC3339Nano, ts)
	for _, tc := range []struct {
		in      string
		stream  string
		partial bool
		content string
		bad     bool
	}{
		{in: ts + " stdout F hello world", stream: "stdout", content: "hello world"},
		{in: ts + " stderr P part", stream: "stderr", partial: true, content: "part"},
		{in: ts + " stdout F ", stream: "stdout", content: ""},
		{in: ts + " stdout F", stream: "stdout", content: ""},
		{in: ts + " stdout F  two  spaces ", stream: "stdout", content: " two  spaces "},
		{in: ts + " stdout F:x tagged", stream: "stdout", content: "tagged"},
		{in: "2026-11-22T07:05:43.5+01:00 stdout F offset", stream: "stdout", content: "offset"},
		{in: "", bad: true},
		{in: "garbage", bad: true},
		{in: "not-a-time stdout F x", bad: true},
		{in: ts + " stdin F x", bad: true},
		{in: ts + " stdout", bad: true},
		{in: ts + " stdout X x", bad: true},
		{in: ts + " stdout  x", bad: true},
	} {
		r, err := parseRecord([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: parsed as %+v, want an error", tc.in, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if r.stream != tc.stream || r.partial != tc.partial || string(r.content) != tc.content {
			t.Errorf("%q: got %s %v %q", tc.in, r.stream, r.partial, r.content)
		}
		if tc.stream != "" && tc.content != "offset" && !r.ts.Equal(want) {
			t.Errorf("%q: ts %v, want %v", tc.in, r.ts, want)
		}
	}
}
