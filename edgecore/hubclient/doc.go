// Package hubclient is edgecore's end of the cloud⇄edge hub (wire protocol: package hubproto).
//
// A Client dials the hub URL (a websocket over TLS with the node's client certificate, trusting
// only the cluster CA), runs a yamux client session over the websocket's binary messages, opens
// the control stream and says hello with the meta store's inventory. Then:
//
//   - TypeSync batches from the cloud are applied to the meta store in one transaction each and
//     acknowledged (TypeAck with the batch's Seq) only after they are committed. Applying is
//     idempotent by the cloud resourceVersion, so a batch the cloud resends after a reconnect
//     is harmless. A frame that does not parse, or a batch the store refuses as invalid, is a
//     protocol error: nothing of it is applied, the client answers TypeError, closes the
//     session and dials again.
//   - Status updates handed to SendStatus are queued (bounded, coalesced per object: while
//     offline only the newest status of each object is kept) and sent as TypeStatus frames
//     with per-session sequence numbers, at most StatusWindow unacknowledged at a time; those
//     not acknowledged when a session ends are sent again in the next one.
//   - Streams the cloud opens after the control stream (reverse tunnel, ServiceBus) go to
//     Options.StreamHandler, one goroutine each, closed with the session.
//
// Heartbeats: the client answers the hub's websocket pings, runs yamux keepalives and closes a
// session that heard nothing for ReadIdleTimeout. Lost sessions are re-dialled with exponential
// backoff and jitter (1s doubling to 60s by default).
package hubclient
