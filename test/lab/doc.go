// Package lab runs the real parts of Outpost on one machine for integration tests and the demo:
// etcd and a real kube-apiserver (plus controller-manager and scheduler when asked) with a fresh
// PKI, and a topology of network namespaces — a public network, and sites each behind a NAT
// router that drops unsolicited inbound traffic.
//
// Everything a lab creates belongs to a Run. Names carry the run's id ("op<id>-..."), the run
// records its pid under StateDir, and Run.Close removes processes, namespaces and files in
// reverse order of creation. CleanStale (also called by every new Run and by `hack/lab-clean`)
// removes what dead runs left behind and nothing else.
//
// The lab never touches the root network namespace: control plane, relays and agents run inside
// the lab's namespaces, and the test process reaches them through sockets it opens inside a
// namespace (Host.Dial, Host.Listen). A root-namespace loopback forwarder gives kubectl a plain
// kubeconfig. It needs root.
//
// The controller-manager runs with the taint-eviction controller disabled: edge nodes lose
// the cloud for minutes or days, node-lifecycle then taints them NoExecute
// (node.kubernetes.io/unreachable), and the eviction controller would delete their pods after
// the default 300 s toleration although they keep running on the node (edge autonomy).
//
// Host.StartContainerd runs a containerd per edge host (CRI for edged) with its root, state,
// sockets, runc state, CNI config and pod network namespaces under the run's directory, and
// the lab's registry-free images (package test/images) imported.
package lab
