// Package edgecontroller decides what each edge node holds and carries its status back: the
// cloud half of Outpost's cloud ⇄ edge sync, on top of package hub.
//
// Downstream it follows the sample-controller shape: informers on Nodes, Pods, ConfigMaps,
// Secrets, ServiceAccounts, Services and EndpointSlices feed typed workqueues keyed by node
// name. syncNode computes the node's own share (its own Node, the pods bound to it and what
// they reference), diffs it against what the node holds or will hold, and sends the
// difference in bounded batches over the node's hub session. The node's share is all it
// gets: a Secret reaches a node only if a pod bound to that node references it (the rule of
// Kubernetes' NodeRestriction).
//
// The mesh share (every Service and EndpointSlice, and the Nodes hosting an endpoint, pruned
// to what the mesh agent reads) is the same for every node: it is kept once, encoded once per
// object version, in a snapshot with a generation and a bounded change log; syncMesh moves a
// node's cursor through that log, so a mesh change costs each node a few shared bytes and no
// recomputation, and per node no copy of the share is kept.
//
// Delivery state is per node and in memory. A Hello inventory is the truth at every session
// start (so a cloudcore restart loses nothing); acknowledged batches move into the held set;
// batches still unacknowledged when a session ends are forgotten and so sent again. Within a
// session one resourceVersion of an object is sent once. At most Window batches are in
// flight: when the window is full a sync stops and the next ack queues the node again, so a
// slow node never holds a worker.
//
// Upstream, status frames go to a second workqueue keyed by node name and are applied in order
// with the node's own authority: its Node status and Lease, status of pods bound to it, events.
// A frame is acknowledged once applied or permanently refused.
//
// A node disconnected for longer than Options.GracePeriod gets Ready=Unknown
// ("NodeStatusUnknown"); its pods stay (edge autonomy) and no taint is added.
package edgecontroller
