package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpostmesh/outpost/bench/internal/probe"
	"github.com/outpostmesh/outpost/test/lab"
)

// transfer is the result of one throughput run.
type transfer struct {
	Conns   int     `json:"conns"`
	Bytes   int64   `json:"bytes"`   // acknowledged by the receiver
	Seconds float64 `json:"seconds"` // first write to last acknowledgment
	Gbps    float64 `json:"gbps"`
	Capped  bool    `json:"capped"` // the time cap ended the run before all bytes were sent
	// AgentCPU is CPU seconds per GB of the agents (and relay) watched during the run, by
	// process name ("agent-a1", "agent-b1", "relay"); AgentCPUSec the same in CPU seconds.
	AgentCPU    map[string]float64 `json:"agentCpuSecondsPerGB,omitempty"`
	AgentCPUSec map[string]float64 `json:"agentCpuSeconds,omitempty"`
	// AgentGo is each agent's Go allocation and GC count per GB, from its /metrics.
	AgentGo map[string]goPerGB `json:"agentGoPerGB,omitempty"`
	// BenchCPU is this process's CPU seconds per GB: the client and the sink server (and for
	// the QUIC ceiling both QUIC ends).
	BenchCPU float64 `json:"benchCpuSecondsPerGB"`
	// BenchSysShare is the kernel's share of BenchCPU.
	BenchSysShare float64 `json:"benchSysShare"`
	// AgentSysShare is the kernel's share of each watched process's CPU.
	AgentSysShare map[string]float64 `json:"agentSysShare,omitempty"`
	// MachineBusy is the share of all CPUs busy during the run (other users included).
	MachineBusy float64 `json:"machineBusy"`
}

// goPerGB is Go runtime work per GB proxied.
type goPerGB struct {
	AllocMB float64 `json:"allocMB"`
	GCs     float64 `json:"gcs"`
}

// throughput sends total bytes split over n parallel connections (each to a sink) and stops
// writing at the time cap. It counts only what the receivers acknowledged.
func throughput(ctx context.Context, open opener, n int, total int64, limit time.Duration) (transfer, error) {
	per := total / int64(n)
	conns := make([]stream, 0, n)
	defer func() {
		for _, s := range conns {
			s.Close()
		}
	}()
	for range n {
		s, err := open(ctx)
		if err != nil {
			return transfer{}, fmt.Errorf("open: %w", err)
		}
		conns = append(conns, s)
		defer probe.Bound(ctx, s)()
	}
	chunk := make([]byte, 64<<10)
	u0, s0 := selfCPU()
	busy0, total0 := machineCPU()
	start := time.Now()
	stopWriting := start.Add(limit)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		acked  int64
		capped bool
		errs   []error
	)
	fail := func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	for _, s := range conns {
		wg.Go(func() {
			// Past the cap, what is in flight must still drain; a path that stalls fails
			// the run instead of hanging it.
			_ = s.SetDeadline(stopWriting.Add(limit + 5*time.Second))
			if _, err := s.Write([]byte{probe.ModeSink}); err != nil {
				fail(err)
				return
			}
			var sent int64
			hitCap := false
			for sent < per {
				if time.Now().After(stopWriting) {
					hitCap = true
					break
				}
				w, err := s.Write(chunk[:min(int64(len(chunk)), per-sent)])
				sent += int64(w)
				if err != nil {
					fail(fmt.Errorf("write after %d bytes: %w", sent, err))
					return
				}
			}
			_ = s.CloseWrite()
			var ack [8]byte
			if _, err := io.ReadFull(s, ack[:]); err != nil {
				fail(fmt.Errorf("read acknowledgment: %w", err))
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
	u1, s1 := selfCPU()
	cpu := u1 - u0 + s1 - s0
	busy1, total1 := machineCPU()
	if err := errors.Join(errs...); err != nil {
		return transfer{}, err
	}
	t := transfer{Conns: n, Bytes: acked, Seconds: elapsed.Seconds(), Capped: capped,
		Gbps: float64(acked) * 8 / elapsed.Seconds() / 1e9}
	if acked > 0 {
		t.BenchCPU = cpu / (float64(acked) / 1e9)
		t.BenchSysShare = (s1 - s0) / max(cpu, 1e-9)
	}
	if total1 > total0 {
		t.MachineBusy = (busy1 - busy0) / (total1 - total0)
	}
	return t, nil
}

// latency is a distribution summary in microseconds.
type latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Us"`
	P99 float64 `json:"p99Us"`
	Max float64 `json:"maxUs"`
}

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	q, mx := probe.Quantiles(ds, 0.50, 0.99)
	return latency{N: len(ds), P50: us(q[0]), P99: us(q[1]), Max: us(mx)}
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// echoConn is one established echo connection for ping-pong.
type echoConn struct {
	s        stream
	msg      []byte
	back     []byte
	seq      uint64
	samples  []time.Duration
	stopWait func() bool
}

// openEcho opens an echo connection and does a few round trips, so the connection (and,
// through the mesh, the backend connection or tunnel stream) is fully up before timing.
func openEcho(ctx context.Context, open opener, n int) (*echoConn, error) {
	s, err := open(ctx)
	if err != nil {
		return nil, err
	}
	e := &echoConn{s: s, msg: make([]byte, 64), back: make([]byte, 64), samples: make([]time.Duration, 0, n)}
	e.stopWait = probe.Bound(ctx, s)
	_ = s.SetDeadline(time.Now().Add(time.Duration(n)*10*time.Millisecond + 30*time.Second))
	if _, err := s.Write([]byte{probe.ModeEcho}); err != nil {
		e.close()
		return nil, err
	}
	for range 20 {
		if _, err := e.roundTrip(); err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func (e *echoConn) roundTrip() (time.Duration, error) {
	e.seq++
	binary.BigEndian.PutUint64(e.msg, e.seq)
	start := time.Now()
	if _, err := e.s.Write(e.msg); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(e.s, e.back); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if binary.BigEndian.Uint64(e.back) != e.seq {
		return 0, fmt.Errorf("round trip %d: wrong echo", e.seq)
	}
	return d, nil
}

func (e *echoConn) close() {
	e.stopWait()
	e.s.Close()
}

// pingPongRounds splits n round trips per connection into rounds blocks and runs the blocks
// of all connections in turn, so a burst of load from the machine's other users hits every
// path alike instead of one of them. A connection that fails is reported to fail and left
// out of the later rounds.
func pingPongRounds(ctx context.Context, conns []*echoConn, n, rounds int, fail func(i int, err error)) error {
	per := max(1, n/rounds)
	for range rounds {
		for i, e := range conns {
			if e == nil {
				continue
			}
			for range per {
				if err := ctx.Err(); err != nil {
					return err
				}
				d, err := e.roundTrip()
				if err != nil {
					fail(i, err)
					conns[i] = nil
					break
				}
				e.samples = append(e.samples, d)
			}
		}
	}
	return nil
}

// connRate is the result of one connections-per-second run.
type connRate struct {
	Clients int     `json:"clients"`
	Conns   int64   `json:"conns"`
	Errors  int64   `json:"errors"`
	PerSec  float64 `json:"perSecond"`
	Latency latency `json:"latency"` // connect + request/response + close, per connection
}

// maxConnsPerClient bounds a connections-per-second run whatever its duration.
const maxConnsPerClient = 40000

// connsPerSecond runs clients loops, each inside host h's namespace (on one locked thread,
// so every socket is created there without a namespace switch per dial), doing connect,
// one 64-byte request/response and close to addr until dur has passed.
func connsPerSecond(ctx context.Context, h *lab.Host, addr string, clients int, dur time.Duration) (connRate, error) {
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		all        []time.Duration
		okN, errN  atomic.Int64
		firstError error
	)
	ctx, cancel := context.WithTimeout(ctx, dur+10*time.Second)
	defer cancel()
	start := time.Now()
	end := start.Add(dur)
	for range clients {
		wg.Go(func() {
			ds := make([]time.Duration, 0, 4096)
			_ = h.Do(func() error {
				req, resp := make([]byte, 1+probe.ReqSize), make([]byte, probe.ReqSize+1)
				req[0] = probe.ModeRequest
				d := net.Dialer{Timeout: 2 * time.Second}
				for i := 0; i < maxConnsPerClient && time.Now().Before(end) && ctx.Err() == nil; i++ {
					t0 := time.Now()
					err := func() error {
						c, err := d.DialContext(ctx, "tcp4", addr)
						if err != nil {
							return err
						}
						defer c.Close()
						_ = c.SetDeadline(time.Now().Add(2 * time.Second))
						if _, err := c.Write(req); err != nil {
							return err
						}
						if _, err := io.ReadFull(c, resp[:probe.ReqSize]); err != nil {
							return err
						}
						// The server closes first: wait for its FIN.
						if n, err := c.Read(resp[probe.ReqSize:]); n != 0 || err != io.EOF {
							return fmt.Errorf("no EOF after the response (%d, %v)", n, err)
						}
						return nil
					}()
					if err != nil {
						mu.Lock()
						if firstError == nil {
							firstError = err
						}
						mu.Unlock()
						if errN.Add(1) > 100 {
							return err
						}
						continue
					}
					okN.Add(1)
					ds = append(ds, time.Since(t0))
				}
				return nil
			})
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := connRate{Clients: clients, Conns: okN.Load(), Errors: errN.Load(),
		PerSec: float64(okN.Load()) / elapsed.Seconds(), Latency: summarize(all)}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if r.Errors > 100 || r.Conns == 0 {
		return r, fmt.Errorf("%d failed connections, first: %v", r.Errors, firstError)
	}
	return r, nil
}
