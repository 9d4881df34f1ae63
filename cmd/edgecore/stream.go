package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/outpostmesh/outpost/edgecore/edged"
	"github.com/outpostmesh/outpost/edgecore/edged/stream"
)

// streamResolver hands edged's pod table to the stream server, translating edged's
// not-found into the stream server's (a 404 for the client, not a 500).
type streamResolver struct{ e *edged.Edged }

func (r streamResolver) Container(namespace, pod, container string, previous bool) (string, string, error) {
	id, path, err := r.e.Container(namespace, pod, container, previous)
	return id, path, notFound(err)
}

func (r streamResolver) Sandbox(namespace, pod string) (string, error) {
	id, err := r.e.Sandbox(namespace, pod)
	return id, notFound(err)
}

func notFound(err error) error {
	if errors.Is(err, edged.ErrNotFound) {
		return fmt.Errorf("%w: %w", stream.ErrNotFound, err)
	}
	return err
}

// serveStream serves h on ln until ctx ends. Logs followed and exec sessions last as long
// as the client wants, so only reading the request head is bounded.
func serveStream(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close() // hijacked exec streams are not waited for
		}
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("stream server: %w", err)
}
