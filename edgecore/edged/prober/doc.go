// Package prober runs the liveness, readiness and startup probes of edged's
// containers the way the kubelet does: one worker goroutine per container
// and probe kind, ticking every periodSeconds after initialDelaySeconds,
// counting consecutive successes and failures against the thresholds.
//
// The Manager only reports: liveness and startup failures (once the
// failureThreshold is reached) and readiness changes are sent on Results;
// edged decides what to do (kill and restart, mark the pod not ready).
// Time, exec and dialing are injected (Options) so tests run on a fake
// clock with a fake Execer and loopback sockets.
package prober
