package tunnel

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkStreamThroughput measures one stream's throughput between two agents on loopback,
// over the direct path and over the relay (TURN on loopback).
//
//	go test -run XXX -bench StreamThroughput -benchtime 2000x ./tunnel/
func BenchmarkStreamThroughput(b *testing.B) {
	for _, tc := range []struct {
		name   string
		direct bool
	}{{"direct", true}, {"relay", false}} {
		b.Run(tc.name, func(b *testing.B) {
			ca := newCA(b)
			r := startRelay(b, ca, "relay-1", nil)
			oa := testAgentOptions(b, ca, "node-a", r)
			ob := testAgentOptions(b, ca, "node-b", r)
			oa.DisableDirect, ob.DisableDirect = !tc.direct, !tc.direct
			oa.Logger, ob.Logger = oa.Logger.V(10), ob.Logger.V(10)
			a, bb := startAgent(b, oa), startAgent(b, ob)
			waitRelaysUp(b, a, bb)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			want := PathRelay
			if tc.direct {
				want = PathDirect
				if _, err := a.Dial(ctx, "node-b", nil); err != nil {
					b.Fatal(err)
				}
				eventually(b, 10*time.Second, func() bool { return peerStatus(a, "node-b").Path == PathDirect }, "direct")
			}
			done := make(chan int64, 1)
			go func() {
				for {
					s, err := bb.Accept(ctx)
					if err != nil {
						done <- -1
						return
					}
					if string(s.Header()) != "bench" {
						s.Close()
						continue
					}
					n, _ := io.Copy(io.Discard, s)
					s.Close()
					done <- n
					return
				}
			}()
			s, err := a.Dial(ctx, "node-b", []byte("bench"))
			if err != nil {
				b.Fatal(err)
			}
			if s.Path() != want {
				b.Fatalf("path %s", s.Path())
			}
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := s.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			_ = s.CloseWrite()
			if n := <-done; n != int64(b.N*len(buf)) {
				b.Fatalf("received %d bytes, sent %d", n, b.N*len(buf))
			}
			b.StopTimer()
			s.Close()
		})
	}
}

// BenchmarkFirstStream measures the time from Dial to a new peer to the first echoed byte
// (agents and relay are set up outside the timer; a fresh pair per iteration).
func BenchmarkFirstStream(b *testing.B) {
	ca := newCA(b)
	r := startRelay(b, ca, "relay-1", nil)
	var total time.Duration
	for i := range b.N {
		b.StopTimer()
		oa := testAgentOptions(b, ca, "node-a", r)
		ob := testAgentOptions(b, ca, "node-b", r)
		oa.Logger, ob.Logger = oa.Logger.V(10), ob.Logger.V(10)
		oa.Registerer, ob.Registerer = nil, nil
		a, bb := startAgent(b, oa), startAgent(b, ob)
		serveEcho(bb)
		waitRelaysUp(b, a, bb)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b.StartTimer()
		start := time.Now()
		s, err := a.Dial(ctx, "node-b", []byte("x"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		s.Close()
		cancel()
		_ = a.Close()
		_ = bb.Close()
		_ = i
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-byte")
}
