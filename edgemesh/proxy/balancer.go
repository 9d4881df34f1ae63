package proxy

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// balancer chooses backends for one service port. It does no I/O: the caller dials and
// reports the outcome. Its state (round-robin counter, affinity, ejections) lives across
// Syncs; only the endpoint set is swapped.
type balancer struct {
	set      atomic.Pointer[endpointSet]
	rr       atomic.Uint64
	affinity *affinityTable
	out      *outliers
	now      func() time.Time
}

func newBalancer(set *endpointSet, out *outliers, now func() time.Time) *balancer {
	lb := &balancer{affinity: newAffinityTable(), out: out, now: now}
	lb.set.Store(set)
	return lb
}

// update swaps in a new endpoint set and forgets ejection state of backends that left.
func (lb *balancer) update(set *endpointSet) {
	lb.set.Store(set)
	lb.out.retain(func(a netip.AddrPort) bool { return set.lookup(a) != nil })
}

// pick chooses a backend for client, never one in tried (unless the set has only one
// backend). Tiers are tried best first; within a tier, ejected backends are skipped, and
// only when every untried backend of every tier is ejected are ejected ones used.
func (lb *balancer) pick(client netip.Addr, tried []netip.AddrPort) *backend {
	set := lb.set.Load()
	now := lb.now()
	untried := func(b *backend) bool { return !slices.Contains(tried, b.addr) }
	healthy := func(b *backend) bool { return untried(b) && !lb.out.ejected(b.addr, now) }
	for _, ok := range []func(*backend) bool{healthy, untried} {
		for t := range numTiers {
			if b := lb.pickIn(set, t, client, ok, now); b != nil {
				return b
			}
		}
	}
	if n := len(set.tiers[0]) + len(set.tiers[1]) + len(set.tiers[2]); n == 1 {
		for _, bs := range set.tiers {
			if len(bs) == 1 {
				return bs[0] // a lone backend may be retried
			}
		}
	}
	return nil
}

// pickIn applies affinity, then the policy, to the backends of tier t that ok accepts.
func (lb *balancer) pickIn(set *endpointSet, t int, client netip.Addr, ok func(*backend) bool, now time.Time) *backend {
	bs := set.tiers[t]
	n := 0
	for _, b := range bs {
		if ok(b) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if set.affinity {
		if addr, found := lb.affinity.get(client, now, set.affinityTimeout); found {
			if b := set.lookup(addr); b != nil && b.tier == t && ok(b) {
				return b
			}
		}
	}
	var i int
	switch set.policy {
	case view.ConsistentHash:
		if r := set.rings[t]; r != nil {
			return r.lookup(client, ok)
		}
	case view.Random:
		i = rand.IntN(n)
	default:
		i = int((lb.rr.Add(1) - 1) % uint64(n))
	}
	for _, b := range bs {
		if ok(b) {
			if i == 0 {
				return b
			}
			i--
		}
	}
	return nil
}

// connected records a successful connect of client to b; healthy says whether that proves
// b healthy (a UDP "connect" proves nothing: the first reply does).
func (lb *balancer) connected(client netip.Addr, b *backend, healthy bool) {
	if healthy {
		lb.out.success(b.addr)
	}
	if set := lb.set.Load(); set.affinity {
		lb.affinity.put(client, b.addr, lb.now(), set.affinityTimeout)
	}
}

// failed records a failed connect to b and reports an ejection.
func (lb *balancer) failed(b *backend) (time.Duration, bool) {
	return lb.out.failure(b.addr, lb.now())
}
