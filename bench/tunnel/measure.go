package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
)

// stream and opener are the measuring types both lab benchmarks share.
type (
	stream = probe.Stream
	opener = probe.Opener
)

// transfer is the result of one throughput run.
type transfer struct {
	Streams int     `json:"streams"`
	Bytes   int64   `json:"bytes"`   // acknowledged by the receiver
	Seconds float64 `json:"seconds"` // first write to last acknowledgment
	Gbps    float64 `json:"gbps"`
	CPUSec  float64 `json:"cpuSeconds"` // user+system of this process (both ends, and the relay)
	CPUPerG float64 `json:"cpuSecondsPerGB"`
	Capped  bool    `json:"capped"` // the time cap ended the run before all bytes were sent
}

// throughput sends total bytes split over n parallel streams (each to a sink) and stops
// writing at the time cap. It counts only what the receivers acknowledged.
func throughput(ctx context.Context, open opener, n int, total int64, limit time.Duration) (transfer, error) {
	per := total / int64(n)
	streams := make([]stream, 0, n)
	defer func() {
		for _, s := range streams {
			s.Close()
		}
	}()
	for range n {
		s, err := open(ctx)
		if err != nil {
			return transfer{}, fmt.Errorf("open stream: %w", err)
		}
		streams = append(streams, s)
		defer probe.Bound(ctx, s)()
	}
	chunk := make([]byte, 64<<10)
	cpu0 := cpuTime()
	start := time.Now()
	stopWriting := start.Add(limit)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		acked  int64
		capped bool
		errs   []error
	)
	for _, s := range streams {
		wg.Go(func() {
			// Past the cap, what is in flight must still drain; a path that stalls fails
			// the run instead of hanging it.
			_ = s.SetDeadline(stopWriting.Add(limit + 5*time.Second))
			if _, err := s.Write([]byte{probe.ModeSink}); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			var sent int64
			hitCap := false
			for sent < per {
				if time.Now().After(stopWriting) {
					hitCap = true
					break
				}
				b := chunk[:min(int64(len(chunk)), per-sent)]
				w, err := s.Write(b)
				sent += int64(w)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("write after %d bytes: %w", sent, err))
					mu.Unlock()
					return
				}
			}
			_ = s.CloseWrite()
			var ack [8]byte
			if _, err := io.ReadFull(s, ack[:]); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("read acknowledgment: %w", err))
				mu.Unlock()
				return
			}
			got := int64(binary.BigEndian.Uint64(ack[:]))
			mu.Lock()
			acked += got
			capped = capped || hitCap
			if got != sent {
				errs = append(errs, fmt.Errorf("receiver got %d of %d bytes", got, sent))
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if err := errors.Join(errs...); err != nil {
		return transfer{}, err
	}
	t := transfer{Streams: n, Bytes: acked, Seconds: elapsed.Seconds(), CPUSec: cpu.Seconds(), Capped: capped}
	t.Gbps = float64(acked) * 8 / elapsed.Seconds() / 1e9
	if acked > 0 {
		t.CPUPerG = cpu.Seconds() / (float64(acked) / 1e9)
	}
	return t, nil
}

// latency is a distribution summary in milliseconds.
type latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
	// Samples are the single values in order (only for the few fresh-peer measurements).
	Samples []float64 `json:"samplesMs,omitempty"`
}

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	q, mx := probe.Quantiles(ds, 0.50, 0.99)
	return latency{N: len(ds), P50: ms(q[0]), P99: ms(q[1]), Max: ms(mx)}
}

// summarizeAll is summarize keeping the samples.
func summarizeAll(ds []time.Duration) latency {
	l := summarize(ds)
	for _, d := range ds {
		l.Samples = append(l.Samples, ms(d))
	}
	return l
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// opens measures stream-open latency: open a stream, send the echo mode and one byte, read the
// byte back, close. QUIC sends nothing for a new stream until data is written, so "open" is
// only complete when the peer has answered on it; for TCP it includes the TCP handshake.
func opens(ctx context.Context, open opener, n int) (latency, error) {
	var ds []time.Duration
	for range n {
		if err := ctx.Err(); err != nil {
			return latency{}, err
		}
		start := time.Now()
		s, err := open(ctx)
		if err != nil {
			return latency{}, err
		}
		stop := probe.Bound(ctx, s)
		_ = s.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, err = s.Write([]byte{probe.ModeEcho, 'x'})
		if err == nil {
			_, err = io.ReadFull(s, b[:])
		}
		d := time.Since(start)
		stop()
		s.Close()
		if err != nil {
			return latency{}, fmt.Errorf("open %d: %w", len(ds), err)
		}
		ds = append(ds, d)
	}
	return summarize(ds), nil
}

// pingPong measures round trips of 64 bytes on one echo stream.
func pingPong(ctx context.Context, open opener, n int) (latency, error) {
	s, err := open(ctx)
	if err != nil {
		return latency{}, err
	}
	defer s.Close()
	defer probe.Bound(ctx, s)()
	_ = s.SetDeadline(time.Now().Add(time.Duration(n)*10*time.Millisecond + 10*time.Second))
	if _, err := s.Write([]byte{probe.ModeEcho}); err != nil {
		return latency{}, err
	}
	msg, back := make([]byte, 64), make([]byte, 64)
	ds := make([]time.Duration, 0, n)
	for i := range n {
		binary.BigEndian.PutUint64(msg, uint64(i))
		start := time.Now()
		if _, err := s.Write(msg); err != nil {
			return latency{}, err
		}
		if _, err := io.ReadFull(s, back); err != nil {
			return latency{}, err
		}
		ds = append(ds, time.Since(start))
		if binary.BigEndian.Uint64(back) != uint64(i) {
			return latency{}, fmt.Errorf("round trip %d: wrong echo", i)
		}
	}
	return summarize(ds), nil
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
