package edged

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// resolveTimeout bounds the CRI calls of one resolver call.
const resolveTimeout = 10 * time.Second

// Container resolves a container of a pod for the stream server (logs, exec): its runtime
// ID and log path; previous picks the instance before the current one (`logs --previous`).
func (e *Edged) Container(namespace, pod, container string, previous bool) (string, string, error) {
	p, err := e.storedPod(namespace, pod)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	rt, err := e.runtimeOf(ctx, p.UID)
	if err != nil {
		return "", "", err
	}
	instances := rt.byName(container, "")
	i := 0
	if previous {
		i = 1
	}
	if i >= len(instances) {
		what := "container"
		if previous {
			what = "previous terminated container"
		}
		return "", "", fmt.Errorf("%w: %s %q in pod %s/%s", ErrNotFound, what, container, namespace, pod)
	}
	s, err := e.containerStatus(ctx, instances[i].Id)
	if err != nil {
		return "", "", err
	}
	return s.Id, s.LogPath, nil
}

// Sandbox resolves a pod's ready sandbox for the stream server (port-forward).
func (e *Edged) Sandbox(namespace, pod string) (string, error) {
	p, err := e.storedPod(namespace, pod)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	rt, err := e.runtimeOf(ctx, p.UID)
	if err != nil {
		return "", err
	}
	sb := rt.readySandbox()
	if sb == nil {
		return "", fmt.Errorf("%w: running sandbox of pod %s/%s", ErrNotFound, namespace, pod)
	}
	return sb.Id, nil
}

// storedPod is the pod from the store; ErrNotFound also before the informers synced.
func (e *Edged) storedPod(namespace, name string) (*corev1.Pod, error) {
	if !e.listersReady.Load() {
		return nil, fmt.Errorf("%w: pod %s/%s (edged is starting)", ErrNotFound, namespace, name)
	}
	p, err := e.pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, fmt.Errorf("%w: pod %s/%s", ErrNotFound, namespace, name)
	}
	return p, nil
}
