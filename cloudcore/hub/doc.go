// Package hub is cloudcore's end of the cloud ⇄ edge connection: a websocket server on TLS 1.3
// that edge nodes dial with their node certificate, carrying a yamux session per node (see
// package hubproto for the wire protocol).
//
// The hub owns sessions, not state: it authenticates the node (certificate from the cluster CA,
// CN "system:node:NAME", equal to the node named in Hello), keeps one session per node (a new
// one replaces the old), heartbeats with websocket pings, bounds the unacknowledged sync batches
// per node (Window) and reports everything else to a Handler (the edge controller): sessions
// starting with their inventory, sessions ending, batches acknowledged, status frames received.
// What to send and what was delivered is the Handler's business.
//
// Every session has three goroutines of its own besides yamux's: the control reader (the
// HTTP handler's goroutine, which owns the session), a frame writer and a pinger. Writes never
// run on the caller's goroutine, so a slow or stuck node blocks only itself.
package hub
