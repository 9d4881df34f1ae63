package cri

import (
	"context"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Execer runs commands in containers through CRI ExecSync; it satisfies the prober's Execer.
type Execer struct {
	// Runtime is the runtime service to call.
	Runtime runtimeapi.RuntimeServiceClient
}

// ExecSync runs cmd in the container and waits up to timeout, rounded up to whole seconds as
// CRI counts them (0: no runtime-side limit; ctx still bounds the call).
func (e Execer) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (stdout, stderr []byte, exitCode int32, err error) {
	if timeout > 0 {
		// A little slack for the RPC itself, so the runtime's timeout decides first.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout+2*time.Second)
		defer cancel()
	}
	resp, err := e.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{
		ContainerId: containerID, Cmd: cmd, Timeout: int64((timeout + time.Second - 1) / time.Second),
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("cri: exec in %s: %w", containerID, err)
	}
	return resp.Stdout, resp.Stderr, resp.ExitCode, nil
}
