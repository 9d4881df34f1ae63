package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/outpostmesh/outpost/edgecore/edged"
	"github.com/outpostmesh/outpost/edgecore/edged/stream"
	"github.com/outpostmesh/outpost/healthz"
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

// serveStream serves the stream server on ln until ctx ends (healthz.Serve closes followed
// logs and exec streams that outlast the shutdown grace).
func serveStream(ctx context.Context, ln net.Listener, h http.Handler) error {
	if err := healthz.Serve(ctx, ln, h); err != nil {
		return fmt.Errorf("stream server: %w", err)
	}
	return nil
}
