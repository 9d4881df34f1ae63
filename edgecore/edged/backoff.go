package edged

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// resetAfter is how long a container must have run for its crash loop back-off to start over
// (the kubelet's 10 minutes).
const resetAfter = 10 * time.Minute

// backoff is the kubelet's restart back-off: the first restart is immediate, then each waits
// initial, 2×initial, … up to max after the container finished.
type backoff struct {
	clock        clock.PassiveClock
	initial, max time.Duration

	mu    sync.Mutex
	delay map[string]time.Duration // current delay per key; absent: next restart immediate
}

func newBackoff(c clock.PassiveClock, initial, max time.Duration) *backoff {
	return &backoff{clock: c, initial: initial, max: max, delay: map[string]time.Duration{}}
}

// wait returns how long key must still wait after finished before restarting (0: go). ran is
// how long the last instance ran; long enough resets the back-off.
func (b *backoff) wait(key string, finished time.Time, ran time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ran >= resetAfter {
		delete(b.delay, key)
	}
	d, ok := b.delay[key]
	if !ok {
		return 0
	}
	if left := finished.Add(d).Sub(b.clock.Now()); left > 0 {
		return left
	}
	return 0
}

// next records a restart of key: the following one waits twice as long.
func (b *backoff) next(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.delay[key]
	switch {
	case !ok:
		d = b.initial
	default:
		d = min(2*d, b.max)
	}
	b.delay[key] = d
}

// reset forgets key (a pod that went away).
func (b *backoff) reset(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.delay {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.delay, k)
		}
	}
}

// forget drops key.
func (b *backoff) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.delay, key)
}

// current is key's delay (0 before the first restart).
func (b *backoff) current(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.delay[key]
}
