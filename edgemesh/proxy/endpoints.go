package proxy

import (
	"net/netip"
	"slices"
	"time"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// Locality tiers, best first.
const (
	tierNode = iota
	tierSite
	tierRemote
	numTiers
)

// backend is one endpoint of one service port.
type backend struct {
	ep   view.Endpoint
	port uint16
	// addr identifies the backend (endpoint IP and port) across Syncs.
	addr netip.AddrPort
	tier int
}

// endpointSet is the immutable routing state of a service port; Sync swaps it as a whole.
type endpointSet struct {
	// tiers holds the usable backends by locality, best first.
	tiers [numTiers][]*backend
	// rings are the consistent-hash rings of the tiers (ConsistentHash only).
	rings           [numTiers]*hashRing
	policy          view.LBPolicy
	affinity        bool
	affinityTimeout time.Duration
	noFastPath      bool
}

// locality tells the tier of a node.
type locality struct {
	node, site string
	siteOf     func(string) string
}

func (l locality) tier(node string) int {
	if l.node != "" && node == l.node {
		return tierNode
	}
	site := l.site
	if l.siteOf != nil {
		site = l.siteOf(node)
	}
	// An unknown site is nobody's site: two unlabelled nodes are not known to share a LAN.
	if site != "" && site == l.site {
		return tierSite
	}
	return tierRemote
}

// newEndpointSet selects the usable endpoints of a service port: the ready ones (all of them
// if the service publishes not-ready addresses), or, when none is ready, the serving and
// terminating ones, as kube-proxy does. Endpoints without a port for sp are skipped.
func newEndpointSet(svc *view.Service, sp view.ServicePort, loc locality, defAffinity time.Duration) *endpointSet {
	set := &endpointSet{policy: svc.Policy, affinity: svc.SessionAffinity, affinityTimeout: svc.AffinityTimeout, noFastPath: svc.NoFastPath}
	if set.policy == "" {
		set.policy = view.RoundRobin
	}
	if set.affinityTimeout <= 0 {
		set.affinityTimeout = defAffinity
	}
	var ready, fallback []*backend
	for _, ep := range svc.Endpoints {
		port, ok := ep.Ports[sp.Name]
		if !ok || port == 0 || !ep.IP.IsValid() {
			continue
		}
		b := &backend{ep: ep, port: port, addr: netip.AddrPortFrom(ep.IP, port), tier: loc.tier(ep.NodeName)}
		switch {
		case ep.Ready || svc.PublishNotReady:
			ready = append(ready, b)
		case ep.Serving && ep.Terminating:
			fallback = append(fallback, b)
		}
	}
	use := ready
	if len(use) == 0 {
		use = fallback
	}
	for _, b := range use {
		set.tiers[b.tier] = append(set.tiers[b.tier], b)
	}
	if set.policy == view.ConsistentHash {
		for t, bs := range set.tiers {
			if len(bs) > 0 {
				set.rings[t] = newHashRing(bs)
			}
		}
	}
	return set
}

// empty reports whether the set has no backend at all.
func (s *endpointSet) empty() bool {
	for _, bs := range s.tiers {
		if len(bs) > 0 {
			return false
		}
	}
	return true
}

// lookup returns the backend with address addr, or nil.
func (s *endpointSet) lookup(addr netip.AddrPort) *backend {
	for _, bs := range s.tiers {
		for _, b := range bs {
			if b.addr == addr {
				return b
			}
		}
	}
	return nil
}

// direct returns the endpoints of the fast path (see Redirect.Direct) of the given family, or
// nil when the service needs the proxy: another policy, session affinity, opted out
// (view.FastPathAnnotation), or a best tier that is another site (only a tunnel reaches it).
func (s *endpointSet) direct(v4 bool) []netip.AddrPort {
	if s.policy != view.RoundRobin || s.affinity || s.noFastPath {
		return nil
	}
	for t := tierNode; t <= tierSite; t++ {
		if len(s.tiers[t]) == 0 {
			continue
		}
		var out []netip.AddrPort
		for _, b := range s.tiers[t] {
			if b.addr.Addr().Unmap().Is4() == v4 {
				out = append(out, b.addr)
			}
		}
		slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
		return out
	}
	return nil
}
