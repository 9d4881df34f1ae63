// Package edged runs the node's pods through CRI (containerd): a client of the node's local
// Kubernetes API (the metaserver), in the sample-controller shape — informers on the node's
// pods, the ConfigMaps and Secrets they use and the own Node, a typed workqueue keyed by
// namespace/name, and syncPod(ctx, key) that makes the runtime match the spec — plus a
// PLEG-like relist of CRI state that queues pods whose containers changed. Every sandbox and
// container carries the kubelet's well-known labels, so after a restart edged adopts what
// runs instead of recreating it, and works with the cloud unreachable. Status goes upstream
// through a StatusSink (the hub client), only when it changed.
package edged
