package main

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
)

// The first byte a client writes on every connection picks what the server does with it.
//
//	'S' sink: read to EOF, answer the byte count (uint64, big endian), close.
//	'E' echo: copy everything back, half-close at EOF.
//	'R' request: read one reqSize-byte request, answer reqSize bytes, close first (so the
//	    TIME_WAIT lands on the server, not on the client's ephemeral ports).
const (
	modeSink    = 'S'
	modeEcho    = 'E'
	modeRequest = 'R'
	reqSize     = 64
)

// stream and opener are the measuring types both lab benchmarks share.
type (
	stream = probe.Stream
	opener = probe.Opener
)

// serve is the server side of every path.
func serve(s stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(2 * time.Minute)) // nothing here lasts longer
	var mode [1]byte
	if _, err := io.ReadFull(s, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case modeSink:
		n, err := io.CopyBuffer(io.Discard, readerOnly{s}, make([]byte, 64<<10))
		if err != nil {
			return
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		_, _ = s.Write(b[:])
		_ = s.CloseWrite()
	case modeEcho:
		_, _ = io.CopyBuffer(s, readerOnly{s}, make([]byte, 4<<10))
		_ = s.CloseWrite()
	case modeRequest:
		var req [reqSize]byte
		if _, err := io.ReadFull(s, req[:]); err != nil {
			return
		}
		_, _ = s.Write(req[:])
	}
}

type readerOnly struct{ io.Reader }

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
			s.wg.Go(func() { serve(c.(*net.TCPConn)) })
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
