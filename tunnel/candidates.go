package tunnel

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

// candidatePolicy decides which addresses may be ICE candidates, ours and the peer's:
// never link-local (169.254.0.0/16, fe80::/10: a node-local DNS address such as
// 169.254.96.16 is on every node, so a check to it reaches our own host), loopback only with
// Options.IncludeLoopback, and nothing in Options.ExcludeCandidateCIDRs.
type candidatePolicy struct {
	includeLoopback bool
	exclude         []netip.Prefix
}

func (a *Agent) candidatePolicy() candidatePolicy {
	return candidatePolicy{includeLoopback: a.opts.IncludeLoopback, exclude: a.opts.ExcludeCandidateCIDRs}
}

func (c candidatePolicy) allow(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsLinkLocalUnicast():
		return false
	case ip.IsLoopback() && !c.includeLoopback:
		return false
	}
	for _, p := range c.exclude {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func (c candidatePolicy) allowIP(ip net.IP) bool {
	addr, ok := netip.AddrFromSlice(ip)
	return ok && c.allow(addr)
}

// candidateMux is the agent's UDP mux as one ICE agent sees it. pion gathers host candidates
// from the mux's listen addresses, which for a wildcard socket are every interface address,
// loopback and link-local included: pion's IncludeLoopback check only recognises a plain
// *UDPMuxDefault, not the universal mux. So the listen addresses are filtered here.
//
// For server-reflexive gathering (srflx true) only one address is listed: the STUN request
// goes out of the one socket whatever local address it is labelled with, so every address
// would yield the same mapped address (the same candidate with another related address).
type candidateMux struct {
	*ice.UniversalUDPMuxDefault
	policy candidatePolicy
	srflx  bool
}

func (m candidateMux) GetListenAddresses() []net.Addr {
	all := m.UniversalUDPMuxDefault.GetListenAddresses()
	out := make([]net.Addr, 0, len(all))
	for _, addr := range all {
		if u, ok := addr.(*net.UDPAddr); ok && m.policy.allowIP(u.IP) {
			out = append(out, addr)
		}
	}
	if m.srflx {
		if len(out) == 0 {
			out = all // the related address only; the mapped one is checked on signalling
		}
		out = out[:min(len(out), 1)]
	}
	return out
}

// candidateSieve drops candidates of one session before they are signalled: those the policy
// refuses, and those with a transport address already sent (RFC 8445 §5.1.3: a srflx
// candidate equal to a host candidate, or the same mapping learnt from several STUN servers,
// is redundant; all share the one socket as base).
type candidateSieve struct {
	policy candidatePolicy
	mu     sync.Mutex
	sent   map[netip.AddrPort]struct{}
}

func newCandidateSieve(p candidatePolicy) *candidateSieve {
	return &candidateSieve{policy: p, sent: map[netip.AddrPort]struct{}{}}
}

// pass reports whether c should be signalled, and remembers it if so.
func (s *candidateSieve) pass(c ice.Candidate) bool {
	ip, err := netip.ParseAddr(c.Address())
	if err != nil || !s.policy.allow(ip) {
		return false
	}
	key := netip.AddrPortFrom(ip.Unmap(), uint16(c.Port()))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sent[key]; dup {
		return false
	}
	s.sent[key] = struct{}{}
	return true
}

// muxWarning is what pion's UDPMuxDefault says when its socket is bound to a wildcard address.
// It recommends one socket per interface address (MultiUDPMux). That does not apply here:
// the agent must have exactly one socket, owned by quic-go, so that the path ICE validates is
// the one QUIC then uses; on a wildcard socket the kernel picks the source address by route
// for ICE checks and QUIC packets alike; and host candidates are still enumerated from the
// interfaces (and filtered by candidateMux). At worst a check labelled with one host
// candidate leaves from another address of a multi-homed host, and the peer learns that
// address as peer-reflexive: the same route QUIC takes. So the warning is dropped.
const muxWarning = "UDPMuxDefault should not listening on unspecified address"

// quietMuxLogger is the mux's pion logger without muxWarning.
type quietMuxLogger struct{ logging.LeveledLogger }

func (l quietMuxLogger) Warn(msg string) {
	if !strings.HasPrefix(msg, muxWarning) {
		l.LeveledLogger.Warn(msg)
	}
}
