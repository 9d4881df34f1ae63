package edged

import (
	"context"
	"fmt"
	"time"
)

// Container resolves a container of a pod for the stream server (logs, exec): its runtime
// ID and log path; previous picks the instance before the current one (`logs --previous`).
func (e *Edged) Container(namespace, pod, container string, previous bool) (string, string, error) {
	p, err := e.pods.Pods(namespace).Get(pod)
	if err != nil {
		return "", "", fmt.Errorf("%w: pod %s/%s", ErrNotFound, namespace, pod)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
