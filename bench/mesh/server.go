package main

import (
	"net"
	"sync"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
)

// stream and opener are the measuring types both lab benchmarks share.
type (
	stream = probe.Stream
	opener = probe.Opener
)

// sinkServer accepts TCP connections on a listener (opened inside a lab host) and serves
// them until closed.
type sinkServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newSinkServer(ln net.Listener) *sinkServer {
	s := &sinkServer{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { probe.Serve(c.(*net.TCPConn)) })
		}
	})
	return s
}

// close stops accepting; connections still open end by their own deadline or the client.
func (s *sinkServer) close() {
	_ = s.ln.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
