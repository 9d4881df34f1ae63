package edged

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

// podRuntime is a pod's state in the runtime: all its sandboxes and containers, newest first.
type podRuntime struct {
	sandboxes  []*runtimeapi.PodSandbox
	containers []*runtimeapi.Container
}

// runtimeOf lists the pod's sandboxes and containers (this node's labels only).
func (e *Edged) runtimeOf(ctx context.Context, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{cri.LabelPodUID: string(uid), cri.LabelNode: e.o.NodeName}
	sbs, err := e.o.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, fmt.Errorf("edged: list sandboxes of %s: %w", uid, err)
	}
	cs, err := e.o.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, fmt.Errorf("edged: list containers of %s: %w", uid, err)
	}
	rt := &podRuntime{sandboxes: sbs.Items, containers: cs.Containers}
	slices.SortFunc(rt.sandboxes, func(a, b *runtimeapi.PodSandbox) int {
		return cmp.Or(cmp.Compare(b.GetMetadata().GetAttempt(), a.GetMetadata().GetAttempt()), cmp.Compare(b.CreatedAt, a.CreatedAt))
	})
	slices.SortFunc(rt.containers, func(a, b *runtimeapi.Container) int {
		return cmp.Or(cmp.Compare(restartCountOf(b.Annotations), restartCountOf(a.Annotations)), cmp.Compare(b.CreatedAt, a.CreatedAt))
	})
	return rt, nil
}

// readySandbox is the newest ready sandbox, or nil.
func (rt *podRuntime) readySandbox() *runtimeapi.PodSandbox {
	for _, s := range rt.sandboxes {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			return s
		}
	}
	return nil
}

// nextAttempt is the attempt number of a new sandbox.
func (rt *podRuntime) nextAttempt() uint32 {
	if len(rt.sandboxes) == 0 {
		return 0
	}
	return rt.sandboxes[0].GetMetadata().GetAttempt() + 1
}

// byName returns the containers named name, newest first; with sandboxID only those of
// that sandbox.
func (rt *podRuntime) byName(name, sandboxID string) []*runtimeapi.Container {
	var out []*runtimeapi.Container
	for _, c := range rt.containers {
		if c.Labels[cri.LabelContainerName] == name && (sandboxID == "" || c.PodSandboxId == sandboxID) {
			out = append(out, c)
		}
	}
	return out
}

func restartCountOf(annotations map[string]string) int32 {
	n, err := strconv.ParseInt(annotations[cri.AnnotationRestartCount], 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// containerStatus asks the runtime for a container's details (exit code, times, log path).
func (e *Edged) containerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	resp, err := e.o.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, fmt.Errorf("edged: status of container %s: %w", id, err)
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("edged: status of container %s: empty answer", id)
	}
	return resp.Status, nil
}
