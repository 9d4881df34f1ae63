package tunnel

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"
)

// PathKind says how a peer is reached.
type PathKind string

const (
	// PathDirect is a QUIC connection between the two agent sockets (LAN or punched).
	PathDirect PathKind = "direct"
	// PathRelay is a QUIC connection between the two peers' TURN allocations on one relay.
	PathRelay PathKind = "relay"
	// PathNone means no connection is up.
	PathNone PathKind = "none"
)

// PeerStatus describes the path to one peer.
type PeerStatus struct {
	// Peer is the node name.
	Peer string `json:"peer"`
	// Path is the path new streams take.
	Path PathKind `json:"path"`
	// Relay is the relay ID of the relayed connection, if Path is relay.
	Relay string `json:"relay,omitempty"`
	// RelayStandby is true when a relayed connection is up besides the direct one.
	RelayStandby bool `json:"relayStandby,omitempty"`
	// LocalCandidate and RemoteCandidate are the ICE candidate types of a direct path
	// ("host", "srflx", "prflx"; "host" for LAN discovery), or "relay".
	LocalCandidate  string `json:"localCandidate,omitempty"`
	RemoteCandidate string `json:"remoteCandidate,omitempty"`
	// RemoteAddr is the UDP address packets to the peer go to (a relayed address for relay).
	RemoteAddr string `json:"remoteAddr,omitempty"`
	// RTT is QUIC's smoothed RTT on the active path.
	RTT time.Duration `json:"rtt"`
	// BytesSent and BytesReceived count QUIC bytes on the peer's current connections.
	BytesSent     uint64 `json:"bytesSent"`
	BytesReceived uint64 `json:"bytesReceived"`
	// LastPathChange is when Path last changed; SincePathChange is the time since.
	LastPathChange  time.Time     `json:"lastPathChange"`
	SincePathChange time.Duration `json:"sincePathChange"`
}

// Status describes every known peer, sorted by name.
func (a *Agent) Status() []PeerStatus {
	var out []PeerStatus
	for _, p := range a.peerList() {
		out = append(out, p.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

func (p *peer) status() PeerStatus {
	p.mu.Lock()
	direct, relayed := p.direct, p.relay
	st := PeerStatus{Peer: p.name, Path: p.lastPath, LastPathChange: p.lastChange}
	p.mu.Unlock()
	if !st.LastPathChange.IsZero() {
		st.SincePathChange = time.Since(st.LastPathChange)
	}
	active := direct
	if active == nil {
		active = relayed
	}
	if active != nil {
		st.Relay = active.path.relay
		st.LocalCandidate, st.RemoteCandidate = active.path.localCand, active.path.remoteCand
		if active.path.kind == PathRelay {
			st.LocalCandidate, st.RemoteCandidate = "relay", "relay"
		}
		st.RemoteAddr = active.conn.RemoteAddr().String()
		st.RTT = active.conn.ConnectionStats().SmoothedRTT
	}
	st.RelayStandby = direct != nil && relayed != nil
	for _, pc := range []*pconn{direct, relayed} {
		if pc != nil {
			cs := pc.conn.ConnectionStats()
			st.BytesSent += cs.BytesSent
			st.BytesReceived += cs.BytesReceived
		}
	}
	return st
}

// RelayStatus describes the agent's presence on one relay.
type RelayStatus struct {
	// Addr is the configured signalling address; ID the relay's name once connected.
	Addr string `json:"addr"`
	ID   string `json:"id,omitempty"`
	// Up is true while the signalling session and the TURN allocation are up.
	Up bool `json:"up"`
	// RelayedAddr is our allocation's address.
	RelayedAddr string `json:"relayedAddr,omitempty"`
}

// Relays describes the configured relays.
func (a *Agent) Relays() []RelayStatus {
	out := make([]RelayStatus, 0, len(a.links))
	for _, l := range a.links {
		rs := RelayStatus{Addr: l.cfg.Addr}
		if id, addr := l.relayedAddr(); addr != nil {
			rs.ID, rs.Up, rs.RelayedAddr = id, true, addr.String()
		}
		out = append(out, rs)
	}
	return out
}

// StatusHandler serves {"node", "relays", "peers"} as JSON.
func (a *Agent) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Node   string        `json:"node"`
			Relays []RelayStatus `json:"relays"`
			Peers  []PeerStatus  `json:"peers"`
		}{a.opts.NodeName, a.Relays(), a.Status()})
	})
}
