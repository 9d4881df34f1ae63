// Package probe holds what the lab benchmarks measure and report with: the
// stream every path under test hands out, a QUIC baseline with the tunnel's settings, and
// nearest-rank quantiles, and the end of a main (Finish, Logf).
package probe

import (
	"context"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// Stream is what every path under test hands out: a TCP connection, a tunnel stream, or a QUIC
// stream (QStream).
type Stream interface {
	io.ReadWriter
	CloseWrite() error
	Close() error
	SetDeadline(time.Time) error
}

// Opener opens a stream: a new TCP connection, or a stream on an established connection.
type Opener func(ctx context.Context) (Stream, error)

// Bound makes s's blocked reads and writes fail once ctx ends; stop undoes it.
func Bound(ctx context.Context, s Stream) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = s.SetDeadline(time.Unix(1, 0)) })
}

// ALPN is the TLS protocol of the QUIC baselines.
const ALPN = "outpost-bench"

// QUICConfig is tunnel.Agent's QUIC configuration with tunnel.Options' defaults (see
// quicConfig in tunnel/agent.go); the QUIC baselines use it so they differ from Outpost only
// in what Outpost adds.
func QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  5 * time.Second,
		MaxIdleTimeout:        30 * time.Second,
		KeepAlivePeriod:       10 * time.Second,
		MaxIncomingStreams:    8192,
		MaxIncomingUniStreams: -1,
		EnableDatagrams:       true,
	}
}

// QStream gives a QUIC stream the half-close of a TCP connection.
type QStream struct{ *quic.Stream }

// CloseWrite half-closes: the peer reads EOF.
func (s QStream) CloseWrite() error { return s.Stream.Close() }

// Close ends both directions.
func (s QStream) Close() error {
	s.CancelRead(0)
	return s.Stream.Close()
}

// ServeQUIC accepts connections and streams on ln until ctx ends, handing each stream to serve;
// every goroutine it starts is in wg.
func ServeQUIC(ctx context.Context, ln *quic.Listener, wg *sync.WaitGroup, serve func(Stream)) {
	wg.Go(func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			wg.Go(func() {
				for {
					s, err := c.AcceptStream(ctx)
					if err != nil {
						return
					}
					wg.Go(func() { serve(QStream{s}) })
				}
			})
		}
	})
}

// Quantiles returns the nearest-rank p-quantiles of ds (p in (0, 1]) and the maximum; all zero
// for no samples.
func Quantiles(ds []time.Duration, ps ...float64) (qs []time.Duration, maxD time.Duration) {
	qs = make([]time.Duration, len(ps))
	if len(ds) == 0 {
		return qs, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	for j, p := range ps {
		i := int(p*float64(len(s))+0.5) - 1
		qs[j] = s[max(0, min(i, len(s)-1))]
	}
	return qs, s[len(s)-1]
}
