package proxy

import (
	"net/netip"
	"sync"
	"time"
)

// outliers tracks connect failures per backend address and ejects backends that fail
// EjectAfter times in a row. An ejection lasts EjectBase, doubled for each earlier ejection,
// up to EjectMax; the count of earlier ejections resets after EjectMax without one. State is
// keyed by address, so it survives a Sync that keeps the endpoint.
type outliers struct {
	after     int // <= 0: never eject
	base, max time.Duration

	mu    sync.Mutex
	state map[netip.AddrPort]*outlierState
}

type outlierState struct {
	consecutive  int
	ejections    int
	ejectedUntil time.Time
}

func newOutliers(after int, base, max time.Duration) *outliers {
	return &outliers{after: after, base: base, max: max, state: make(map[netip.AddrPort]*outlierState)}
}

// ejected reports whether addr is ejected at now.
func (o *outliers) ejected(addr netip.AddrPort, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.state[addr]
	return s != nil && now.Before(s.ejectedUntil)
}

// success records a successful connect to addr.
func (o *outliers) success(addr netip.AddrPort) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.state[addr]; s != nil {
		s.consecutive = 0
	}
}

// failure records a failed connect to addr and reports whether it ejected addr now, and for
// how long.
func (o *outliers) failure(addr netip.AddrPort, now time.Time) (time.Duration, bool) {
	if o.after <= 0 {
		return 0, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.state[addr]
	if s == nil {
		s = &outlierState{}
		o.state[addr] = s
	}
	if now.Before(s.ejectedUntil) {
		return 0, false // already out: tried only because every backend is
	}
	s.consecutive++
	if s.consecutive < o.after {
		return 0, false
	}
	if !s.ejectedUntil.IsZero() && now.Sub(s.ejectedUntil) >= o.max {
		s.ejections = 0 // quiet long enough: start over
	}
	d := o.base
	for i := 0; i < s.ejections && d < o.max; i++ {
		d *= 2
	}
	d = min(d, o.max)
	s.ejections++
	s.consecutive = 0
	s.ejectedUntil = now.Add(d)
	return d, true
}

// retain forgets the backends not in keep (called on Sync).
func (o *outliers) retain(keep func(netip.AddrPort) bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for a := range o.state {
		if !keep(a) {
			delete(o.state, a)
		}
	}
}
