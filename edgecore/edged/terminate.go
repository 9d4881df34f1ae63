package edged

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

// terminate stops a pod that is being deleted: containers (preStop hooks first) with the
// grace period, then the sandbox, then its volumes; then the final status with Finalize, on
// which the cloud deletes the pod.
func (e *Edged) terminate(ctx context.Context, pod *corev1.Pod, st *podState) error {
	e.mu.Lock()
	done := st.finalized
	e.mu.Unlock()
	if done {
		return nil
	}
	e.mu.Lock()
	status := st.final
	e.mu.Unlock()
	if status == nil {
		rt, err := e.runtimeOf(ctx, pod.UID)
		if err != nil {
			return err
		}
		if err := e.stopAll(ctx, rt, func(*runtimeapi.Container) int64 { return terminationGrace(pod) }, pod); err != nil {
			return err
		}
		if rt, err = e.runtimeOf(ctx, pod.UID); err != nil {
			return err
		}
		// Built before the sandboxes go: removing them removes the containers' exit codes.
		if status, err = e.buildStatus(ctx, pod, rt, &syncResult{}, st, true); err != nil {
			return err
		}
		if err := e.removeSandboxes(ctx, rt); err != nil {
			return err
		}
		e.mu.Lock()
		st.final = status
		e.mu.Unlock()
	}
	if err := e.vol.TearDown(pod.UID); err != nil {
		return err
	}
	if e.o.Prober != nil {
		e.o.Prober.Remove(pod.UID)
	}
	e.restart.reset(string(pod.UID) + "/")
	if err := e.sendStatus(ctx, pod, st, status, true); err != nil {
		return err
	}
	e.mu.Lock()
	st.finalized = true
	e.mu.Unlock()
	e.o.Logger.Info("pod terminated", "pod", klogRef(pod), "uid", pod.UID, "phase", status.Phase)
	return nil
}

// stopAll stops every running container in parallel (the grace periods overlap, as in the
// kubelet), then every sandbox.
func (e *Edged) stopAll(ctx context.Context, rt *podRuntime, grace func(*runtimeapi.Container) int64, pod *corev1.Pod) error {
	var wg sync.WaitGroup
	errs := make([]error, len(rt.containers))
	for i, c := range rt.containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING && c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			continue
		}
		wg.Go(func() {
			if pod != nil {
				errs[i] = e.stopContainer(ctx, pod, c.Id, grace(c))
				return
			}
			if _, err := e.o.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: grace(c)}); err != nil {
				errs[i] = fmt.Errorf("edged: stop container %s: %w", c.Id, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, s := range rt.sandboxes {
		if _, err := e.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			return fmt.Errorf("edged: stop sandbox %s: %w", s.Id, err)
		}
	}
	return nil
}

func (e *Edged) removeSandboxes(ctx context.Context, rt *podRuntime) error {
	for _, s := range rt.sandboxes {
		if _, err := e.o.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id}); err != nil {
			return fmt.Errorf("edged: remove sandbox %s: %w", s.Id, err)
		}
	}
	return nil
}

// killUID removes a pod the store no longer has (deleted in the cloud while the node was
// offline, or replaced by a pod of the same name): its containers get the grace period they
// were started with, then sandboxes and volumes go.
func (e *Edged) killUID(ctx context.Context, uid types.UID) error {
	rt, err := e.runtimeOf(ctx, uid)
	if err != nil {
		return err
	}
	grace := func(c *runtimeapi.Container) int64 {
		g, err := strconv.ParseInt(c.Annotations[cri.AnnotationTerminationGP], 10, 64)
		if err != nil || g < 0 {
			return 30
		}
		return g
	}
	if err := e.stopAll(ctx, rt, grace, nil); err != nil {
		return err
	}
	if err := e.removeSandboxes(ctx, rt); err != nil {
		return err
	}
	if err := e.vol.TearDown(uid); err != nil {
		return err
	}
	e.restart.reset(string(uid) + "/")
	e.forget(uid)
	e.mu.Lock()
	delete(e.rtKeys, uid)
	delete(e.relisted, uid)
	e.mu.Unlock()
	e.o.Logger.Info("removed pod that left the store", "uid", uid, "sandboxes", len(rt.sandboxes))
	return nil
}

// cleanupVolumeDirs removes the volume directories of pods that neither the store nor the
// runtime knows (left behind by a crash).
func (e *Edged) cleanupVolumeDirs(ctx context.Context) {
	uids, err := e.vol.PodUIDs()
	if err != nil {
		e.o.Logger.Error(err, "listing pod directories")
		return
	}
	known := map[types.UID]bool{}
	pods, _ := e.pods.List(labels.Everything())
	for _, p := range pods {
		known[p.UID] = true
	}
	e.mu.Lock()
	for uid := range e.rtKeys {
		known[uid] = true
	}
	e.mu.Unlock()
	for _, uid := range uids {
		if !known[uid] {
			if err := e.vol.TearDown(uid); err != nil {
				e.o.Logger.Error(err, "removing volumes of a gone pod", "uid", uid)
			}
		}
	}
	_ = ctx
}
