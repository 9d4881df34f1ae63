package tunnel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/outpostmesh/outpost/tunnel/relay"
)

// Signals are the payloads agents exchange through relays (relay.Message.Payload). The relay
// does not read them; it only stamps the authenticated sender.
const (
	// kindRequest: controlled → controlling, "please connect to me" (carries relay addresses).
	kindRequest = "request"
	// kindOffer: controlling → controlled, starts a session: its relay addresses and, when
	// punching, its ICE credentials.
	kindOffer = "offer"
	// kindAnswer: controlled → controlling, the same for the other side, same Session.
	kindAnswer = "answer"
	// kindCandidate: either way, one trickled ICE candidate of Session.
	kindCandidate = "cand"
)

type signal struct {
	Kind    string            `json:"kind"`
	Session string            `json:"session,omitempty"`
	Ufrag   string            `json:"ufrag,omitempty"`
	Pwd     string            `json:"pwd,omitempty"`
	Cand    string            `json:"cand,omitempty"`
	Relays  map[string]string `json:"relays,omitempty"` // relay ID → relayed address
}

// sendSignal sends sig through every relay that is up (the addressee may be registered on any
// of them); receivers drop duplicates by message ID.
func (a *Agent) sendSignal(to string, sig *signal) error {
	payload, err := json.Marshal(sig)
	if err != nil {
		return err
	}
	m := &relay.Message{Type: relay.TypeSignal, ID: randID(), To: to, Payload: payload}
	sent := 0
	for _, l := range a.links {
		if l.send(m) == nil {
			sent++
		}
	}
	if sent == 0 {
		return fmt.Errorf("tunnel: signal %s to %s: %w", sig.Kind, to, ErrNoPath)
	}
	return nil
}

// handleMessage is called by relay links for every signal or error frame.
func (a *Agent) handleMessage(l *relayLink, m *relay.Message) {
	if m.Type == relay.TypeError {
		a.log.V(2).Info("Relay reports", "relay", l.id(), "to", m.To, "err", m.Error)
		return
	}
	if m.From == "" || m.From == a.opts.NodeName || !a.seen.add(m.ID) {
		return
	}
	var sig signal
	if err := json.Unmarshal(m.Payload, &sig); err != nil {
		a.log.V(1).Info("Dropping malformed signal", "from", m.From, "err", err)
		return
	}
	p := a.peer(m.From)
	if p == nil {
		return
	}
	p.learnRelays(sig.Relays)
	switch sig.Kind {
	case kindRequest:
		if p.controlling {
			p.mu.Lock()
			p.wanted = true
			p.mu.Unlock()
			// Not replaceAny: a controlled side that keeps asking while we punch would
			// otherwise restart ICE every time; a stale answered session fails by itself.
			p.connectPolicy(replaceUnanswered)
		}
	case kindOffer:
		if !p.controlling {
			p.onOffer(&sig)
		}
	case kindAnswer:
		if p.controlling {
			p.onAnswer(&sig)
		}
	case kindCandidate:
		p.onCandidate(&sig)
	default:
		a.log.V(1).Info("Dropping unknown signal", "from", m.From, "kind", sig.Kind)
	}
}

// learnRelays records the peer's relayed addresses.
func (p *peer) learnRelays(relays map[string]string) {
	if len(relays) == 0 {
		return
	}
	m := make(map[string]*net.UDPAddr, len(relays))
	for id, s := range relays {
		if addr, err := net.ResolveUDPAddr("udp", s); err == nil {
			m[id] = addr
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.relayAddrs = m // the sender always sends its complete set
}

func randID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dedupe remembers the last n IDs.
type dedupe struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newDedupe(n int) *dedupe {
	return &dedupe{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add reports whether id is new.
func (d *dedupe) add(id string) bool {
	if id == "" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.set[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.set, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.set[id] = struct{}{}
	return true
}
