// Package cri is edged's narrow client of a CRI runtime (containerd) over gRPC.
package cri

import (
	_ "google.golang.org/grpc"
	_ "k8s.io/cri-api/pkg/apis/runtime/v1"
)
