package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/edged"
	"github.com/outpostmesh/outpost/edgecore/edged/stream"
)

// edged's not-found must reach the stream server as its own, or clients get 500 for 404.
func TestNotFoundTranslated(t *testing.T) {
	err := notFound(fmt.Errorf("%w: pod shop/x", edged.ErrNotFound))
	if !errors.Is(err, stream.ErrNotFound) || !errors.Is(err, edged.ErrNotFound) {
		t.Errorf("not translated: %v", err)
	}
	other := errors.New("cri down")
	if got := notFound(other); got != other || notFound(nil) != nil {
		t.Errorf("other errors changed: %v", got)
	}
}

func TestServeStreamStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveStream(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serveStream: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveStream did not stop")
	}
}
