package prober

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Kind is the kind of a probe.
type Kind string

// Probe kinds, as in the pod spec.
const (
	Liveness  Kind = "liveness"
	Readiness Kind = "readiness"
	Startup   Kind = "startup"
)

// ContainerTarget is one running container of a pod.
type ContainerTarget struct {
	// Name is the container's name in the pod spec.
	Name string
	// ID is the runtime's container ID; a new ID means a new instance whose
	// probes start over.
	ID string
	// StartedAt is when the instance started; initialDelaySeconds counts from it.
	StartedAt time.Time
}

// Target is a pod whose running containers must be probed.
type Target struct {
	// Pod holds the spec with the probes and the container ports.
	Pod *corev1.Pod
	// PodIP is the default host of httpGet, tcpSocket and grpc probes.
	PodIP string
	// Containers lists the running containers; a container left out has its
	// probes stopped.
	Containers []ContainerTarget
}

// Result is a probe outcome the owner of the Manager must act on.
type Result struct {
	PodUID      types.UID
	Container   string
	ContainerID string
	Kind        Kind
	// Success is false for a liveness or startup failure that reached the
	// failureThreshold; for readiness it is the new readiness.
	Success bool
	// Message says why the last probe failed (empty on success).
	Message string
}
