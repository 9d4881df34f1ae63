// Package tunnel gives mesh agents encrypted, authenticated byte streams and datagrams to the
// agents of other nodes, across NATs.
//
// Each Agent owns one UDP socket, owned by a quic.Transport. QUIC packets go to quic-go; the
// rest (STUN) come out of Transport.ReadNonQUICPacket into pion/ice's UDP mux, so ICE's host
// and server-reflexive candidates are that socket's own addresses and NAT mappings: after ICE
// nominates a pair, QUIC dials the nominated address from the very same socket and later
// follows NAT rebinding by itself.
//
// Relays (package relay) do STUN, TURN and signalling. Every agent keeps a signalling session
// and a TURN allocation on every configured relay; a new peer is reached at once by QUIC
// between the two allocations (end-to-end encrypted, the relay only forwards), while ICE runs
// in the background with a deadline and retries with backoff; streams opened after the direct
// connection is up use it. Agents on one LAN also find each other by signed broadcast
// announcements and connect host to host, with or without relays.
//
// Identity is the node certificate from the cluster CA: every QUIC handshake checks the
// peer's chain and node name (pki.VerifyNode); refusals are logged and counted.
//
// Per peer pair there is one dialer, the node whose name sorts first ("controlling"), so both
// nodes never race to create duplicate connections. See README.md for the whole picture.
package tunnel
