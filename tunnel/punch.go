package tunnel

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v3"
)

// punchSession is one offer/answer exchange and, unless direct paths are disabled or one is
// up, one ICE attempt through the agent socket's mux.
type punchSession struct {
	id     string
	agent  *ice.Agent // nil: relay addresses only
	cancel context.CancelFunc
	ctx    context.Context
	once   sync.Once

	answered bool // controlling side: the peer answered (guarded by peer.mu)
}

func (s *punchSession) close() {
	s.once.Do(func() {
		s.cancel()
		if s.agent != nil {
			_ = s.agent.Close()
		}
	})
}

// ICE pacing. pion/ice runs its checks and nominates from a task loop that ticks every check
// interval (default 200 ms); new candidates trigger an extra round, but after a check
// succeeds the controlling agent nominates on the next tick only (or when the peer's next
// check arrives). That tick was most of the time to a direct path (205 ms, 410 ms with a
// missed tick). 25 ms keeps it below a LAN/metro RTT and costs one ~100-byte check per
// candidate pair per tick, only while a pair is being checked (a session ends once QUIC is
// up). pion fails a pair after MaxBindingRequests unanswered checks, so that number grows
// with the rate to keep pion's default window per pair, (7+1) × 200 ms = 1.6 s.
const (
	iceCheckInterval      = 25 * time.Millisecond
	iceMaxBindingRequests = 64 // (64+1) × 25 ms ≈ 1.6 s
)

// newICEAgent makes an ICE agent whose host and srflx candidates live on the agent socket.
// Acceptance waits are 0: we take the first pair that works (LAB.md: 600 ms → 50–100 ms on
// easy NATs); a later, better pair does not matter because QUIC then owns the path.
// Candidates, ours and the peer's, follow candidatePolicy.
func (a *Agent) newICEAgent() (*ice.Agent, error) {
	zero := time.Duration(0)
	policy := a.candidatePolicy()
	opts := []ice.AgentOption{
		ice.WithNet(a.net),
		ice.WithUDPMux(candidateMux{UniversalUDPMuxDefault: a.mux, policy: policy}),
		ice.WithUDPMuxSrflx(candidateMux{UniversalUDPMuxDefault: a.mux, policy: policy, srflx: true}),
		ice.WithRemoteIPFilter(policy.allowIP),
		ice.WithCheckInterval(iceCheckInterval),
		ice.WithMaxBindingRequests(iceMaxBindingRequests),
		ice.WithUrls(a.stunURLs()),
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithCandidateTypes([]ice.CandidateType{ice.CandidateTypeHost, ice.CandidateTypeServerReflexive}),
		ice.WithHostAcceptanceMinWait(zero),
		ice.WithSrflxAcceptanceMinWait(zero),
		ice.WithPrflxAcceptanceMinWait(zero),
		ice.WithMulticastDNSMode(ice.MulticastDNSModeDisabled),
		ice.WithLoggerFactory(a.pionLog),
		ice.WithSTUNGatherTimeout(a.opts.PunchTimeout / 2),
	}
	if a.opts.IncludeLoopback {
		opts = append(opts, ice.WithIncludeLoopback())
	}
	return ice.NewAgentWithOptions(opts...)
}

func (a *Agent) stunURLs() []*stun.URI {
	var urls []*stun.URI
	for _, l := range a.links {
		if addr := l.turnAddr(); addr != "" {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				continue
			}
			n, _ := strconv.Atoi(port)
			urls = append(urls, &stun.URI{Scheme: stun.SchemeTypeSTUN, Host: host, Port: n, Proto: stun.ProtoTypeUDP})
		}
	}
	return urls
}

// maxUnanswered is how many offers in a row may go unanswered before a peer without
// connections is no longer reconnected by itself.
const maxUnanswered = 5

// Session replacement policies for startSession.
const (
	keepSession       = iota // start one only if none is in flight
	replaceUnanswered        // also replace one the peer has not answered (offer lost?)
)

// startSession (controlling side) sends a new offer unless one is in flight (see policies).
func (p *peer) startSession(policy int) {
	a := p.a
	p.mu.Lock()
	if cur := p.punch; p.closed || (cur != nil && cur.ctx.Err() == nil &&
		(policy == keepSession || cur.answered)) {
		p.mu.Unlock()
		return
	}
	old := p.punch
	withICE := !a.opts.DisableDirect && p.direct == nil
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.PunchTimeout+a.opts.HandshakeTimeout)
	s := &punchSession{id: randID(), ctx: ctx, cancel: cancel}
	sig := &signal{Kind: kindOffer, Session: s.id, Relays: a.relayAddrs()}
	if withICE {
		// Under p.mu, so that s.agent is set before anyone can see s.
		if err := p.prepareICE(s); err != nil {
			a.log.Error(err, "Creating ICE agent", "peer", p.name)
		} else {
			sig.Ufrag, sig.Pwd, _ = s.agent.GetLocalUserCredentials()
		}
	}
	p.punch = s
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	if err := a.sendSignal(p.name, sig); err != nil {
		a.log.V(1).Info("Cannot offer", "peer", p.name, "err", err)
		s.close()
		p.schedulePunch()
		return
	}
	if s.agent != nil {
		if err := s.agent.GatherCandidates(); err != nil {
			a.log.V(1).Info("Gathering candidates", "peer", p.name, "err", err)
		}
	}
	// A session nobody answers ends by itself (ctx), and a retry is scheduled.
	a.goAsync(func() {
		<-ctx.Done()
		p.mu.Lock()
		unanswered := p.punch == s && !s.answered
		if unanswered {
			// A peer that never answers is gone (or not registered anywhere): stop
			// chasing it after a while; the next Dial or request starts again.
			if p.unanswered++; p.unanswered >= maxUnanswered && p.relay == nil && p.direct == nil {
				p.wanted = false
			}
		}
		p.mu.Unlock()
		if unanswered && a.ctx.Err() == nil {
			s.close()
			p.schedulePunch()
		}
	})
}

// prepareICE creates s's ICE agent and trickles its candidates to the peer.
func (p *peer) prepareICE(s *punchSession) error {
	ag, err := p.a.newICEAgent()
	if err != nil {
		return err
	}
	s.agent = ag
	sieve := newCandidateSieve(p.a.candidatePolicy())
	return ag.OnCandidate(func(c ice.Candidate) {
		if c == nil || s.ctx.Err() != nil || !sieve.pass(c) {
			return
		}
		_ = p.a.sendSignal(p.name, &signal{Kind: kindCandidate, Session: s.id, Cand: c.Marshal()})
	})
}

// onOffer (controlled side) answers a new session and starts ICE as the controlled agent.
func (p *peer) onOffer(sig *signal) {
	a := p.a
	p.permitRelays()
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.PunchTimeout+a.opts.HandshakeTimeout)
	s := &punchSession{id: sig.Session, ctx: ctx, cancel: cancel}
	answer := &signal{Kind: kindAnswer, Session: s.id, Relays: a.relayAddrs()}
	if sig.Ufrag != "" && !a.opts.DisableDirect {
		if err := p.prepareICE(s); err != nil {
			a.log.Error(err, "Creating ICE agent", "peer", p.name)
		} else {
			answer.Ufrag, answer.Pwd, _ = s.agent.GetLocalUserCredentials()
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		s.close()
		return
	}
	old := p.punch
	p.punch = s
	pending := p.pending[s.id]
	p.pending = map[string][]string{}
	p.mu.Unlock()
	if old != nil {
		old.close()
	}
	if err := a.sendSignal(p.name, answer); err != nil {
		s.close()
		return
	}
	if s.agent == nil {
		s.close()
		return
	}
	for _, c := range pending {
		p.addCandidate(s, c)
	}
	_ = s.agent.GatherCandidates()
	a.goAsync(func() { p.runICE(s, sig.Ufrag, sig.Pwd) })
}

// onAnswer (controlling side) dials the relay path and starts ICE checks.
func (p *peer) onAnswer(sig *signal) {
	p.mu.Lock()
	s := p.punch
	if s == nil || s.id != sig.Session {
		p.mu.Unlock()
		return
	}
	s.answered = true
	p.unanswered = 0
	pending := p.pending[s.id]
	p.pending = map[string][]string{}
	p.mu.Unlock()
	p.ensureRelay()
	if s.agent == nil || sig.Ufrag == "" {
		if s.agent != nil {
			s.close()
		}
		return
	}
	for _, c := range pending {
		p.addCandidate(s, c)
	}
	p.a.goAsync(func() { p.runICE(s, sig.Ufrag, sig.Pwd) })
}

func (p *peer) onCandidate(sig *signal) {
	p.mu.Lock()
	s := p.punch
	if s == nil || s.id != sig.Session || s.agent == nil {
		if len(p.pending) < 8 && len(p.pending[sig.Session]) < 32 {
			p.pending[sig.Session] = append(p.pending[sig.Session], sig.Cand)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.addCandidate(s, sig.Cand)
}

func (p *peer) addCandidate(s *punchSession, cand string) {
	c, err := ice.UnmarshalCandidate(cand)
	if err != nil {
		p.a.log.V(1).Info("Dropping bad candidate", "peer", p.name, "err", err)
		return
	}
	if err := s.agent.AddRemoteCandidate(c); err != nil {
		p.a.log.V(1).Info("Adding candidate", "peer", p.name, "err", err)
	}
}

// runICE runs connectivity checks until a pair is nominated or the punch deadline; the
// controlling side then dials QUIC to the nominated remote address from the agent socket,
// the controlled side waits for that connection on its listener.
func (p *peer) runICE(s *punchSession, ufrag, pwd string) {
	a := p.a
	ctx, cancel := context.WithTimeout(s.ctx, a.opts.PunchTimeout)
	defer cancel()
	start := time.Now()
	var err error
	if p.controlling {
		_, err = s.agent.Dial(ctx, ufrag, pwd)
	} else {
		_, err = s.agent.Accept(ctx, ufrag, pwd)
	}
	if err != nil {
		a.metrics.punches.WithLabelValues("failed").Inc()
		a.log.V(1).Info("Hole punching failed", "peer", p.name, "err", err, "after", time.Since(start))
		s.close()
		if p.controlling {
			p.schedulePunch()
		}
		return
	}
	pair, err := s.agent.GetSelectedCandidatePair()
	if err != nil || pair == nil {
		s.close()
		return
	}
	info := pathInfo{kind: PathDirect, localCand: pair.Local.Type().String(), remoteCand: pair.Remote.Type().String()}
	p.mu.Lock()
	p.lastICE = info
	p.mu.Unlock()
	a.log.V(1).Info("ICE connected", "peer", p.name, "local", pair.Local.String(), "remote", pair.Remote.String(), "after", time.Since(start))
	if !p.controlling {
		// Keep answering checks until the controlling side's QUIC connection arrives
		// (attach closes the session) or the session ends.
		<-s.ctx.Done()
		s.close()
		return
	}
	raddr := &net.UDPAddr{IP: net.ParseIP(pair.Remote.Address()), Port: pair.Remote.Port()}
	conn, err := a.tr.Dial(ctx, raddr, a.clientTLS(p.name), a.quicConfig())
	s.close()
	if err != nil {
		a.metrics.punches.WithLabelValues("failed").Inc()
		a.log.V(1).Info("Direct QUIC dial failed", "peer", p.name, "addr", raddr.String(), "err", err)
		p.schedulePunch()
		return
	}
	a.metrics.punches.WithLabelValues("ok").Inc()
	a.attach(conn, info)
}

// closePunchLater ends the ICE session once a direct connection is up; it only answers
// checks that no longer matter.
func (p *peer) closePunchLater() {
	p.mu.Lock()
	s := p.punch
	p.mu.Unlock()
	if s != nil && !p.controlling {
		s.close()
	}
}

func (p *peer) closePunch() {
	p.mu.Lock()
	s := p.punch
	p.mu.Unlock()
	if s != nil {
		s.close()
	}
}

// schedulePunch (controlling side) retries a session with exponential backoff while the peer
// is still wanted or reachable through a relay.
func (p *peer) schedulePunch() {
	if !p.controlling {
		return
	}
	a := p.a
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(a.links) == 0 || (p.relay == nil && !p.wanted) || (p.direct != nil && p.relay != nil) {
		return
	}
	if p.punchWait == 0 {
		p.punchWait = a.opts.PunchRetryMin
	} else {
		p.punchWait = min(2*p.punchWait, a.opts.PunchRetryMax)
	}
	if p.retry != nil {
		p.retry.Stop()
	}
	p.retry = time.AfterFunc(p.punchWait, func() {
		a.goAsync(func() { p.startSession(keepSession) })
	})
}
