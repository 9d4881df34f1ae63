package edged

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
)

// containerCtx is what the container steps of one sync share.
type containerCtx struct {
	pod   *corev1.Pod
	st    *podState
	rt    *podRuntime
	sbID  string
	sbCfg *runtimeapi.PodSandboxConfig
	paths map[string]string
	ips   volume.PodIPs
	res   *syncResult
}

// runningContainer is a started container the prober should watch.
type runningContainer struct {
	name, id  string
	startedAt time.Time
}

// startContainer pulls, creates and starts one container. A waiting reason goes into the
// result; errors are for retrying.
func (e *Edged) startContainer(ctx context.Context, cc *containerCtx, c *corev1.Container, init bool, restartCount int32) error {
	_, err := e.startContainerID(ctx, cc, c, init, restartCount)
	return err
}

// startContainerID is startContainer returning the started container's ID ("" if none).
func (e *Edged) startContainerID(ctx context.Context, cc *containerCtx, c *corev1.Container, init bool, restartCount int32) (string, error) {
	imageRef, w, err := e.ensureImage(ctx, c, cc.sbCfg)
	if err != nil {
		return "", err
	}
	if w != nil {
		cc.res.waits[c.Name] = w
		if w.reason == reasonErrImagePull || w.reason == reasonImagePullBackOff {
			cc.res.after(e.pulls.wait(c.Image, e.lastPullFailure(c.Image), 0) + time.Millisecond)
		}
		return "", nil
	}
	env, envMap, err := e.containerEnv(cc.pod, c, cc.ips)
	if err != nil {
		cc.res.waits[c.Name] = &waiting{reason: "CreateContainerConfigError", message: err.Error()}
		cc.res.message = err.Error()
		return "", fmt.Errorf("%w: %w", errWaiting, err)
	}
	cfg, err := e.containerConfig(&containerRequest{
		pod: cc.pod, spec: c, init: init, restartCount: restartCount, imageRef: imageRef,
		env: env, envMap: envMap, volumes: cc.paths, sandboxID: cc.sbID, sandboxCfg: cc.sbCfg,
	})
	if err != nil {
		cc.res.waits[c.Name] = &waiting{reason: "CreateContainerConfigError", message: err.Error()}
		return "", nil
	}
	if err := os.MkdirAll(filepath.Join(cc.sbCfg.LogDirectory, c.Name), 0o755); err != nil {
		return "", fmt.Errorf("edged: container log dir: %w", err)
	}
	created, err := e.o.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: cc.sbID, Config: cfg, SandboxConfig: cc.sbCfg})
	if err != nil {
		cc.res.waits[c.Name] = &waiting{reason: "CreateContainerError", message: err.Error()}
		return "", fmt.Errorf("edged: create container %s: %w", c.Name, err)
	}
	if _, err := e.o.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		cc.res.waits[c.Name] = &waiting{reason: "RunContainerError", message: err.Error()}
		return "", fmt.Errorf("edged: start container %s: %w", c.Name, err)
	}
	e.metrics.containersStarted.Inc()
	e.o.Logger.V(1).Info("container started", "pod", klogRef(cc.pod), "container", c.Name, "id", created.ContainerId, "restartCount", restartCount)
	return created.ContainerId, nil
}

// shouldRestart applies the restart policy to an exit code.
func shouldRestart(pod *corev1.Pod, exitCode int32) bool {
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// restartAfterExit restarts an exited container when policy and back-off allow; it reports
// whether a restart is wanted at all.
// restartAfterExit restarts an exited container when policy and back-off allow, and returns
// the new container's ID ("" when none started).
func (e *Edged) restartAfterExit(ctx context.Context, cc *containerCtx, c *corev1.Container, init bool, latest *runtimeapi.Container) (string, error) {
	s, err := e.containerStatus(ctx, latest.Id)
	if err != nil {
		return "", err
	}
	exit := s.ExitCode
	if latest.PodSandboxId != cc.sbID && s.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		exit = 255 // its sandbox died under it
	}
	if !shouldRestart(cc.pod, exit) {
		return "", nil
	}
	rc := restartCountOf(latest.Annotations) + 1
	key := backoffKey(cc.pod.UID, c.Name)
	finished, started := time.Unix(0, s.FinishedAt), time.Unix(0, s.StartedAt)
	if wait := e.restart.wait(key, finished, finished.Sub(started)); wait > 0 {
		cc.res.waits[c.Name] = &waiting{reason: "CrashLoopBackOff", message: fmt.Sprintf(
			"back-off %s restarting failed container=%s pod=%s_%s(%s)", e.restart.current(key).Round(time.Second), c.Name, cc.pod.Name, cc.pod.Namespace, cc.pod.UID)}
		cc.res.after(wait + time.Millisecond)
		return "", nil
	}
	e.restart.next(key)
	return e.startContainerID(ctx, cc, c, init, rc)
}

func backoffKey(uid types.UID, container string) string { return string(uid) + "/" + container }

// syncInitContainers runs init containers one after the other; done once all succeeded.
func (e *Edged) syncInitContainers(ctx context.Context, cc *containerCtx) (bool, error) {
	for i := range cc.pod.Spec.InitContainers {
		c := &cc.pod.Spec.InitContainers[i]
		inSandbox := cc.rt.byName(c.Name, cc.sbID)
		if len(inSandbox) == 0 {
			var rc int32
			if prev := cc.rt.byName(c.Name, ""); len(prev) > 0 {
				rc = restartCountOf(prev[0].Annotations) + 1
			}
			return false, e.startContainer(ctx, cc, c, true, rc)
		}
		latest := inSandbox[0]
		switch latest.State {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			return false, nil
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			_, err := e.o.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: latest.Id})
			return false, err
		}
		s, err := e.containerStatus(ctx, latest.Id)
		if err != nil {
			return false, err
		}
		if s.ExitCode == 0 {
			continue
		}
		// A failed init container reruns unless the policy is Never (then the pod fails).
		if cc.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return false, nil
		}
		_, err = e.restartAfterExit(ctx, cc, c, true, latest)
		return false, err
	}
	return true, nil
}

// syncContainer keeps one regular container running as its spec and policy say.
func (e *Edged) syncContainer(ctx context.Context, cc *containerCtx, c *corev1.Container) (*runningContainer, error) {
	all := cc.rt.byName(c.Name, "")
	if len(all) == 0 {
		return e.startedAs(e.startContainerID(ctx, cc, c, false, 0))(c.Name)
	}
	latest := all[0]
	if latest.PodSandboxId == cc.sbID {
		switch latest.State {
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			_, err := e.o.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: latest.Id})
			return nil, err
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			if latest.Annotations[cri.AnnotationContainerHash] != containerHash(c) {
				e.o.Logger.Info("container spec changed, replacing it", "pod", klogRef(cc.pod), "container", c.Name)
				if err := e.stopContainer(ctx, cc.pod, latest.Id, terminationGrace(cc.pod)); err != nil {
					return nil, err
				}
				return e.startedAs(e.startContainerID(ctx, cc, c, false, restartCountOf(latest.Annotations)+1))(c.Name)
			}
			if msg, failed := e.takeKill(cc.st, latest.Id); failed {
				e.o.Logger.Info("probe failed, killing container", "pod", klogRef(cc.pod), "container", c.Name, "message", msg)
				if err := e.stopContainer(ctx, cc.pod, latest.Id, terminationGrace(cc.pod)); err != nil {
					return nil, err
				}
				e.queue.Add(cacheKey(cc.pod)) // the next sync applies the restart policy
				return nil, nil
			}
			s, err := e.containerStatus(ctx, latest.Id)
			if err != nil {
				return nil, err
			}
			return &runningContainer{name: c.Name, id: latest.Id, startedAt: time.Unix(0, s.StartedAt)}, nil
		}
	}
	return e.startedAs(e.restartAfterExit(ctx, cc, c, false, latest))(c.Name)
}

// startedAs turns a start's outcome into the prober's view of it.
func (e *Edged) startedAs(id string, err error) func(name string) (*runningContainer, error) {
	return func(name string) (*runningContainer, error) {
		if id == "" {
			return nil, err
		}
		return &runningContainer{name: name, id: id, startedAt: e.o.Clock.Now()}, err
	}
}

func (e *Edged) takeKill(st *podState, id string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	msg, ok := st.kill[id]
	delete(st.kill, id)
	return msg, ok
}

// stopContainer runs a cheap preStop exec hook, then stops the container with grace seconds.
func (e *Edged) stopContainer(ctx context.Context, pod *corev1.Pod, id string, grace int64) error {
	if name, hook := preStopOf(pod, e.containerName(ctx, id)); hook != nil {
		start := e.o.Clock.Now()
		ex := cri.Execer{Runtime: e.o.Runtime}
		if _, _, code, err := ex.ExecSync(ctx, id, hook.Command, time.Duration(grace)*time.Second); err != nil || code != 0 {
			e.o.Logger.V(2).Info("preStop hook failed", "pod", klogRef(pod), "container", name, "exitCode", code, "err", err)
		}
		grace = max(grace-int64(e.o.Clock.Since(start).Seconds()), 2)
	}
	if _, err := e.o.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace}); err != nil {
		return fmt.Errorf("edged: stop container %s: %w", id, err)
	}
	return nil
}

func (e *Edged) containerName(ctx context.Context, id string) string {
	s, err := e.containerStatus(ctx, id)
	if err != nil {
		return ""
	}
	return s.GetMetadata().GetName()
}

func preStopOf(pod *corev1.Pod, name string) (string, *corev1.ExecAction) {
	for _, c := range pod.Spec.Containers {
		if c.Name == name && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
			return name, c.Lifecycle.PreStop.Exec
		}
	}
	return name, nil
}

// terminationGrace is the seconds a container gets to stop: the deletion's grace period when
// shorter than the spec's.
func terminationGrace(pod *corev1.Pod) int64 {
	g := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if d := pod.DeletionGracePeriodSeconds; d != nil && *d < g {
		g = *d
	}
	return max(g, 0)
}

// gcContainers removes exited containers beyond the newest two of each name in a sandbox
// (the newest is the current one or the last exit, the second serves `logs --previous`).
func (e *Edged) gcContainers(ctx context.Context, rt *podRuntime) {
	seen := map[string]int{}
	for _, c := range rt.containers {
		k := c.PodSandboxId + "/" + c.Labels[cri.LabelContainerName]
		seen[k]++
		if seen[k] > 2 && c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			if _, err := e.o.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id}); err != nil {
				e.o.Logger.V(2).Info("removing old container failed", "id", c.Id, "err", err)
			}
		}
	}
}
