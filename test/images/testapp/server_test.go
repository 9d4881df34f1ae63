package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestProbes(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1000, 0)
	s := &server{start: now, now: func() time.Time { return now }, failLiveAfter: 5 * time.Second,
		unhealthyFile: filepath.Join(dir, "unhealthy"), unreadyFile: filepath.Join(dir, "unready")}
	h := s.handler()
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	now = now.Add(5 * time.Second)
	if code, _ := get(t, h, "/healthz"); code != 500 {
		t.Errorf("/healthz after FAIL_LIVENESS_AFTER = %d, want 500", code)
	}
	if code, _ := get(t, h, "/ready"); code != 200 {
		t.Errorf("/ready = %d, want 200", code)
	}
	os.WriteFile(s.unreadyFile, nil, 0o644)
	if code, _ := get(t, h, "/ready"); code != 500 {
		t.Errorf("/ready with the file = %d, want 500", code)
	}
}

func TestFileAndEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cm")
	os.WriteFile(p, []byte("value"), 0o644)
	h := newServer().handler()
	if code, body := get(t, h, "/file?path="+p); code != 200 || body != "value" {
		t.Errorf("/file = %d %q", code, body)
	}
	if code, _ := get(t, h, "/file?path=/nonexistent"); code != 404 {
		t.Errorf("/file of a missing file = %d, want 404", code)
	}
	if code, _ := get(t, h, "/file"); code != 400 {
		t.Errorf("/file without path = %d, want 400", code)
	}
	t.Setenv("TESTAPP_UNIT", "x")
	code, body := get(t, h, "/env")
	var env map[string]string
	if code != 200 || json.Unmarshal([]byte(body), &env) != nil || env["TESTAPP_UNIT"] != "x" {
		t.Errorf("/env = %d %s", code, body)
	}
}

func TestModes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"exit", "3"}, 3},
		{[]string{"exit", "x"}, 2},
		{[]string{"touch", p}, 0},
		{[]string{"cat", p}, 0},
		{[]string{"rm", p}, 0},
		{[]string{"rm", p}, 1},
		{[]string{"sleep", "0"}, 0},
		{[]string{"bogus"}, 2},
	} {
		if got := run(tc.args); got != tc.want {
			t.Errorf("testapp %v = %d, want %d", tc.args, got, tc.want)
		}
	}
}
