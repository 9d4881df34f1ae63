package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// maxExecOutput bounds the output quoted in a failure message.
const maxExecOutput = 1024

// execProbe runs the command in the container; exit code 0 is success.
func (r *runner) execProbe(ctx context.Context, t *workerTarget, a *corev1.ExecAction) error {
	if r.exec == nil {
		return ErrNoExecer
	}
	timeout := orDefault(t.probe.TimeoutSeconds, defaultTimeout)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	stdout, stderr, code, err := r.exec.ExecSync(ctx, t.id, a.Command, timeout)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("exec probe: %v timed out after %s", a.Command, timeout)
		}
		return fmt.Errorf("exec probe: %v: %w", a.Command, err)
	}
	if code != 0 {
		out := strings.TrimSpace(string(stdout) + string(stderr))
		if len(out) > maxExecOutput {
			out = out[:maxExecOutput] + "…"
		}
		return fmt.Errorf("exec probe: %v exited with %d: %s", a.Command, code, out)
	}
	return nil
}
