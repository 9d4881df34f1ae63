// Package nodestatus reports an edge node's status and heartbeat Lease to the cloud, the way
// kubelet does, through the hub (edgecore's hub client queues them; cloudcore's edge controller
// writes them with the node's authority): every Interval, a Node status (Ready with a heartbeat
// time, addresses, capacity, daemon endpoints, node info) and the Lease kube-node-lease/NODE.
package nodestatus
