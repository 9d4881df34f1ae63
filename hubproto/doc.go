// Package hubproto is the wire protocol between cloudcore's hub and edgecore, the one package
// both sides import.
//
// An edge node dials the hub: a websocket (subprotocol Subprotocol) over TLS with the node's
// client certificate (CN "system:node:NAME", from the cluster CA). The websocket's binary
// messages carry a stream multiplexer session (hashicorp/yamux; the edge is the yamux client,
// the cloud the server). The first stream the edge opens is the control stream; further
// streams carry reverse-tunnel requests (kubelet API calls such as /containerLogs and /exec,
// and ServiceBus calls), opened by the cloud, one stream per request.
//
// The control stream carries frames:
//
//	+--------------------+------------------------------------------+
//	| length: uint32, BE | payload: one JSON Frame, length bytes     |
//	+--------------------+------------------------------------------+
//
// A length of 0 or above the receiver's limit (MaxFrameSize unless configured), a payload that
// is not a JSON Frame, or a Frame of unknown Type is a protocol error: the receiver sends a
// TypeError frame if it can and closes the session. Nothing already acknowledged is lost: the
// next session starts from what the edge says it holds.
//
// Conversation:
//
//  1. edge → cloud: TypeHello with the node name (it must match the certificate) and the
//     inventory of objects the edge holds, each with the cloud resourceVersion it has.
//  2. cloud → edge: TypeSync frames, each with a sequence number and a batch of Changes that
//     bring the edge from its inventory to the node's desired state, then every later change.
//     The edge applies a batch in one transaction, idempotently by resourceVersion (a replayed
//     change is skipped), and answers TypeAck with the batch's Seq. The cloud keeps at most
//     Window unacknowledged batches in flight per node (backpressure) and resends what was not
//     acknowledged when a session ends.
//  3. edge → cloud: TypeStatus frames with status updates (node status, lease, pod status,
//     events); the cloud writes them to the apiserver and answers TypeAck with their Seq.
//     Edge and cloud sequence numbers are independent.
//
// Heartbeats are websocket pings; a session that misses them is closed by either side.
package hubproto
