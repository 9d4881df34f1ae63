package stream

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const logsPath = "/containerLogs/ns/pod/app"

// sample writes a log with both streams, a partial line and a malformed
// record; base is the time of the first record, one second apart.
func sample(e *env, base time.Time) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	e.write(
		rec(at(0), "stdout", "F", "one"),
		rec(at(1), "stderr", "F", "err one"),
		rec(at(2), "stdout", "P", "two "),
		rec(at(3), "stderr", "F", "err two"),
		"this is not a CRI record\n",
		rec(at(4), "stdout", "P", "still "),
		rec(at(5), "stdout", "F", "two"),
		rec(at(6), "stdout", "F", "three"),
	)
}

func TestLogs(t *testing.T) {
	e := newEnv(t, false)
	base := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	sample(e, base)
	ts := func(i int) string { return base.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"", "one\nerr one\nerr two\ntwo still two\nthree\n"},
		{"?stream=Stdout", "one\ntwo still two\nthree\n"},
		{"?stream=Stderr", "err one\nerr two\n"},
		{"?timestamps=true&stream=Stdout", ts(0) + " one\n" + ts(2) + " two still two\n" + ts(6) + " three\n"},
		{"?tailLines=2", "two still two\nthree\n"},
		{"?tailLines=3", "err two\ntwo still two\nthree\n"},
		{"?tailLines=1&stream=Stderr", "err two\n"},
		{"?tailLines=100", "one\nerr one\nerr two\ntwo still two\nthree\n"},
		{"?tailLines=0", ""},
		{"?limitBytes=6", "one\ner"},
		{"?limitBytes=1000", "one\nerr one\nerr two\ntwo still two\nthree\n"},
		{"?sinceTime=" + url.QueryEscape(base.Add(3*time.Second).Format(time.RFC3339)), "err two\nthree\n"},
		{"?previous=false", "one\nerr one\nerr two\ntwo still two\nthree\n"},
	} {
		code, body := e.get(logsPath + tc.query)
		if code != http.StatusOK || body != tc.want {
			t.Errorf("GET %s = %d %q, want 200 %q", tc.query, code, body, tc.want)
		}
	}
}

func TestLogsSinceSeconds(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now.Add(-time.Hour), "stdout", "F", "old"), rec(now.Add(-2*time.Second), "stdout", "F", "new"))
	if code, body := e.get(logsPath + "?sinceSeconds=60"); code != 200 || body != "new\n" {
		t.Fatalf("sinceSeconds=60: %d %q, want only the new line", code, body)
	}
}

func TestLogsTailWithoutFinalNewline(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now, "stdout", "F", "a"), rec(now, "stdout", "F", "b"), strings.TrimSuffix(rec(now, "stdout", "F", "c"), "\n"))
	for q, want := range map[string]string{"?tailLines=2": "b\nc\n", "?tailLines=1": "c\n", "": "a\nb\nc\n"} {
		if code, body := e.get(logsPath + q); code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", q, code, body, want)
		}
	}
}

// TestLogsTailLargeFile makes tail cross many read chunks, with long
// partial records among the lines.
func TestLogsTailLargeFile(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	var lines []string
	var want []string
	for i := range 5000 {
		content := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%97))
		full := content
		if i%50 == 0 { // a long line split in records, as containerd does
			lines = append(lines, rec(now, "stdout", "P", strings.Repeat("p", 20000)))
			lines = append(lines, rec(now, "stderr", "F", "between the parts"))
			full = strings.Repeat("p", 20000) + content
		}
		lines = append(lines, rec(now, "stdout", "F", content))
		want = append(want, full+"\n")
		if i%7 == 0 {
			lines = append(lines, rec(now, "stderr", "F", "noise"))
		}
	}
	e.write(lines...)
	for _, n := range []int{1, 3, 50, 1234} {
		code, body := e.get(fmt.Sprintf("%s?tailLines=%d&stream=Stdout", logsPath, n))
		if exp := strings.Join(want[len(want)-n:], ""); code != 200 || body != exp {
			t.Errorf("tailLines=%d: %d, %d bytes; want %d bytes (first line %q)", n, code, len(body), len(exp), firstLine(body))
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 60 {
		l = l[:60]
	}
	return l
}

func TestLogsPrevious(t *testing.T) {
	e := newEnv(t, false)
	if code, _ := e.get(logsPath + "?previous=true"); code != http.StatusNotFound {
		t.Fatalf("previous without a previous instance: %d, want 404", code)
	}
	e.resolver.prevLogPath = e.dir + "/prev.log"
	e.writeTo(e.resolver.prevLogPath, rec(time.Now(), "stdout", "F", "before restart"))
	if code, body := e.get(logsPath + "?previous=true"); code != 200 || body != "before restart\n" {
		t.Fatalf("previous: %d %q", code, body)
	}
}

func TestLogsErrors(t *testing.T) {
	e := newEnv(t, false)
	e.write(rec(time.Now(), "stdout", "F", "x"))
	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{logsPath + "?tailLines=-1", 400, "tailLines must not be negative"},
		{logsPath + "?tailLines=abc", 400, "not an integer"},
		{logsPath + "?limitBytes=0", 400, "limitBytes must be positive"},
		{logsPath + "?sinceSeconds=0", 400, "sinceSeconds must be positive"},
		{logsPath + "?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", 400, "mutually exclusive"},
		{logsPath + "?sinceTime=yesterday", 400, "not RFC 3339"},
		{logsPath + "?stream=stdin", 400, "must be All, Stdout or Stderr"},
		{"/containerLogs/ns/pod/other", 404, "no container"},
		{"/containerLogs/ns/pod", 404, ""},
		{"/containerLogs/ns/pod/app/extra", 404, ""},
	} {
		code, body := e.get(tc.path)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.path, code, body, tc.code, tc.msg)
		}
	}
	e.resolver.logPath = e.dir + "/missing.log"
	if code, _ := e.get(logsPath); code != 404 {
		t.Errorf("missing log file: %d, want 404", code)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	e := newEnv(t, false)
	if code, body := e.get("/healthz"); code != 200 || body != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	e.get(logsPath + "?tailLines=-1")
	if got := testutil.ToFloat64(e.srv.metrics.requests.WithLabelValues("healthz", "200")); got != 1 {
		t.Errorf("healthz 200 count = %v", got)
	}
	if got := testutil.ToFloat64(e.srv.metrics.requests.WithLabelValues("logs", "400")); got != 1 {
		t.Errorf("logs 400 count = %v", got)
	}
}

// TestLogsOversizedRecord: a 5 MiB run without newlines is no CRI record;
// it is skipped, quickly, and the lines around it survive.
func TestLogsOversizedRecord(t *testing.T) {
	e := newEnv(t, false)
	now := time.Now()
	e.write(rec(now, "stdout", "F", "before"), rec(now, "stdout", "F", strings.Repeat("z", 5<<20)), rec(now, "stdout", "F", "after"))
	for q, want := range map[string]string{"": "before\nafter\n", "?tailLines=2": "before\nafter\n", "?tailLines=1": "after\n"} {
		if code, body := e.get(logsPath + q); code != 200 || body != want {
			t.Errorf("GET %s = %d, %d bytes; want %q", q, code, len(body), want)
		}
	}
}
