// Package cri is edged's narrow client of a CRI runtime (containerd) over gRPC: Dial gives the
// runtime and image services of k8s.io/cri-api's runtime v1, Labels names the kubelet's
// well-known labels and annotations edged puts on every sandbox and container (so its state is
// recovered from the runtime after a restart), and Execer adapts ExecSync for the prober.
package cri
