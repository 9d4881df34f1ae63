package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpostmesh/outpost/pki"
)

// fleet is the simulated edges of one run and what they share.
type fleet struct {
	url       string
	keepAlive time.Duration
	wbufs     *sync.Pool
	edges     []*edge

	expected atomic.Int64                    // upserts that make an initial sync complete
	hosting  atomic.Pointer[map[string]bool] // edges whose Node hosts an endpoint: one upsert less
	synced   atomic.Int64                    // edges whose initial sync completed this round
	watch    atomic.Pointer[watched]
	closing  atomic.Bool  // edges are being dropped on purpose: do not log their errors
	up, down atomic.Int64 // TCP bytes written / read by all edges
	retries  atomic.Int64 // dials tried again
	changes  atomic.Int64 // upserts received by all edges
	foreign  atomic.Int64 // upserts of another edge's Node received by all edges

	errMu  sync.Mutex
	errs   int
	logf   func(string, ...any)
	errLog int
}

// expectedFor is the upserts that make edge name's initial sync complete.
func (f *fleet) expectedFor(name string) int64 {
	if h := f.hosting.Load(); h != nil && (*h)[name] {
		return f.expected.Load() - 1
	}
	return f.expected.Load()
}

// watched names the Service (and its EndpointSlice) whose delivery is timed.
type watched struct{ name string }

func (f *fleet) logErr(err error) {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	f.errs++
	if f.errLog < 10 {
		f.errLog++
		f.logf("%v", err)
	}
}

func (f *fleet) errors() int {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.errs
}

// certCache issues node certificates once per run and CA (ECDSA P-256, pki.NodeSpec).
type certCache struct {
	ca    *pki.CA
	pool  *x509.CertPool
	certs []*tls.Config
}

// get returns the client TLS configurations of edge-0 … edge-(n-1), issuing the missing ones
// on every core.
func (c *certCache) get(n int) ([]*tls.Config, error) {
	if len(c.certs) >= n {
		return c.certs[:n], nil
	}
	from := len(c.certs)
	add := make([]*tls.Config, n-from)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(add); i += workers {
				kp, err := c.ca.Issue(pki.NodeSpec(nodeName(from + i)))
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				add[i] = &tls.Config{
					Certificates: []tls.Certificate{kp.TLSCertificate()},
					RootCAs:      c.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13,
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("issue node certificates: %w", first)
	}
	c.certs = append(c.certs, add...)
	return c.certs, nil
}

func nodeName(i int) string { return fmt.Sprintf("edge-%d", i) }

// connectAll connects the edges with at most conc dials at a time and returns when every
// edge has written its Hello (or failed, or ctx ended); it returns the failures.
func (f *fleet) connectAll(ctx context.Context, conc int) int {
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := make(chan *edge)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				var err error
				for try := 0; try < 3; try++ { // an accept queue overflow shows as a reset: retry
					dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err = e.connect(dctx)
					cancel()
					if err == nil || ctx.Err() != nil {
						break
					}
					f.retries.Add(1)
					if f.retries.Load() <= 5 {
						f.logf("retrying: %v", err)
					}
					time.Sleep(time.Duration(100*(try+1)) * time.Millisecond)
				}
				if err != nil {
					failed.Add(1)
					f.logErr(err)
				}
			}
		}()
	}
	for _, e := range f.edges {
		select {
		case next <- e:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return int(failed.Load())
}

// dropAll closes every edge's TCP connection at once.
func (f *fleet) dropAll() {
	f.closing.Store(true)
	defer f.closing.Store(false)
	for _, e := range f.edges {
		e.mu.Lock()
		if e.tcp != nil {
			e.tcp.Close()
		}
		e.mu.Unlock()
	}
	for _, e := range f.edges {
		e.drop()
	}
}

// waitSynced waits until n edges completed their initial sync, or the deadline; it returns
// how many did.
func (f *fleet) waitSynced(ctx context.Context, n int, d time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if got := int(f.synced.Load()); got >= n {
			return got
		}
		select {
		case <-ctx.Done():
			return int(f.synced.Load())
		case <-t.C:
		}
	}
}

// lastSynced is the latest initial-sync completion among the edges (unix ns).
func (f *fleet) lastSynced() int64 {
	var last int64
	for _, e := range f.edges {
		last = max(last, e.syncedAt.Load())
	}
	return last
}
