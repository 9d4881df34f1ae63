// Package relay is Outpost's rendezvous server for mesh agents behind NATs: STUN and TURN
// (pion/turn) on one UDP port, and an authenticated signalling channel (TLS over TCP, client
// certificates from the cluster CA naming the node) through which agents exchange ICE
// credentials, candidates and the addresses of their TURN allocations.
//
// The relay never sees tunnel traffic in clear: agents run QUIC end to end over their TURN
// allocations. It hands each authenticated agent short-lived TURN credentials in the
// REST-API style (username "expiry:node", password HMAC-SHA1 of the username with a secret
// only the relay knows), so a node identity is all an agent needs.
//
// The wire format of the signalling channel is documented in wire.go next to its constants;
// Client (client.go) is the agent's side of it.
package relay
