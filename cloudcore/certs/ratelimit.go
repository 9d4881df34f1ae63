package certs

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// nodeLimiter is a token bucket per node. Only authenticated nodes get one, so the map is
// bounded by the number of nodes.
type nodeLimiter struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	nodes map[string]*rate.Limiter
}

func newNodeLimiter(perSecond float64, burst int) *nodeLimiter {
	return &nodeLimiter{limit: rate.Limit(perSecond), burst: burst, nodes: map[string]*rate.Limiter{}}
}

// allow takes one request of node's bucket at now, or says no.
func (l *nodeLimiter) allow(node string, now time.Time) bool {
	l.mu.Lock()
	lim, ok := l.nodes[node]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.nodes[node] = lim
	}
	l.mu.Unlock()
	return lim.AllowN(now, 1)
}
