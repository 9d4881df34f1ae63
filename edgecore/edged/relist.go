package edged

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

// relist is edged's PLEG: it lists this node's sandboxes and containers, and queues every pod
// whose runtime state changed since the last relist, and every pod the store does not have
// (orphans to clean up).
func (e *Edged) relist(ctx context.Context) {
	sel := map[string]string{cri.LabelNode: e.o.NodeName}
	sbs, err := e.o.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		e.o.Logger.V(2).Info("relist failed", "err", err)
		return
	}
	cs, err := e.o.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		e.o.Logger.V(2).Info("relist failed", "err", err)
		return
	}
	parts := map[types.UID][]string{}
	keys := map[types.UID]string{}
	ready := map[types.UID]bool{}
	for _, s := range sbs.Items {
		uid := types.UID(s.Labels[cri.LabelPodUID])
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			ready[uid] = true
		}
		keys[uid] = s.Labels[cri.LabelPodNamespace] + "/" + s.Labels[cri.LabelPodName]
		parts[uid] = append(parts[uid], fmt.Sprintf("s%s=%d", s.Id, s.State))
	}
	for _, c := range cs.Containers {
		uid := types.UID(c.Labels[cri.LabelPodUID])
		if _, ok := keys[uid]; !ok {
			keys[uid] = c.Labels[cri.LabelPodNamespace] + "/" + c.Labels[cri.LabelPodName]
		}
		parts[uid] = append(parts[uid], fmt.Sprintf("c%s=%d", c.Id, c.State))
	}
	prints := make(map[types.UID]string, len(parts))
	for uid, p := range parts {
		slices.Sort(p)
		prints[uid] = strings.Join(p, ",")
	}

	var changed []string
	e.mu.Lock()
	for uid, fp := range prints {
		if e.relisted[uid] != fp {
			changed = append(changed, keys[uid])
		}
	}
	for uid := range e.relisted {
		if _, ok := prints[uid]; !ok {
			if k, ok := e.rtKeys[uid]; ok {
				changed = append(changed, k)
			}
		}
	}
	e.relisted, e.rtKeys, e.rtReady = prints, keys, ready
	e.mu.Unlock()

	for uid, key := range keys {
		ns, name, _ := strings.Cut(key, "/")
		if p, err := e.pods.Pods(ns).Get(name); err != nil || p.UID != uid || p.Spec.NodeName != e.o.NodeName {
			changed = append(changed, key)
		}
	}
	for _, k := range changed {
		e.queue.Add(k)
	}
}
