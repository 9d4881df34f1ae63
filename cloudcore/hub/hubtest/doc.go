// Package hubtest is a minimal edge for tests of the hub and of its users: a test CA, node
// certificates, and a client that dials a hub (websocket + yamux), opens the control stream and
// reads and writes hubproto frames. It is deliberately raw: tests send bad input through it.
package hubtest
