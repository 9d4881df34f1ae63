package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"k8s.io/klog/v2/ktesting"
)

func TestCheckPprofAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:0": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.1:6060": false, "nonsense": false,
	} {
		err := checkPprofAddr(addr)
		if (err == nil) != ok || (err != nil && !errors.Is(err, errPprofAddr)) {
			t.Errorf("checkPprofAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestPprofServesHeap(t *testing.T) {
	logger, ctx := ktesting.NewTestContext(t)
	if _, _, err := startPprof(ctx, "0.0.0.0:0", logger); err == nil {
		t.Fatal("served on a non-loopback address")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr, stop, err := startPprof(ctx, "127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for path, want := range map[string]int{"/debug/pprof/heap?gc=1": 200, "/debug/pprof/nosuch": 404} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 200 && len(b) == 0) {
			t.Errorf("GET %s: %d, %d bytes; want %d", path, resp.StatusCode, len(b), want)
		}
	}
}
