package volume

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Getter reads the objects volumes refer to; a missing object is an apierrors NotFound error
// (what client-go listers return).
type Getter interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// TokenSource issues service account tokens for projected volumes (edgecore/satoken).
type TokenSource interface {
	Token(ctx context.Context, pod *corev1.Pod, sa string, audiences []string, expSeconds int64) (string, time.Time, error)
}

// Mounter is the narrow slice of mount(2) the package needs; the real one is HostMounter.
type Mounter interface {
	// MountTmpfs mounts a fresh tmpfs at target; sizeBytes 0 means the kernel's default.
	MountTmpfs(target string, sizeBytes int64) error
	// Unmount unmounts target.
	Unmount(target string) error
	// MountPoints lists the mount points at or under dir.
	MountPoints(dir string) ([]string, error)
}

// Options configure a Manager.
type Options struct {
	// RootDir holds pods/<uid>/volumes/…; required.
	RootDir string
	// Objects resolves ConfigMaps and Secrets; required.
	Objects Getter
	// Tokens issues projected service account tokens; nil makes such volumes fail with
	// ErrNoTokenSource.
	Tokens TokenSource
	// Mounter mounts tmpfs for emptyDir medium Memory and for secret and token volumes.
	// Default HostMounter.
	Mounter Mounter
	// Clock decides token refreshes. Default the real clock.
	Clock clock.PassiveClock
	// Logger receives the manager's logs. Default klog.Background().
	Logger klog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.RootDir == "" || o.Objects == nil {
		return o, fmt.Errorf("%w: RootDir and Objects are required", ErrInvalidOptions)
	}
	if o.Mounter == nil {
		o.Mounter = HostMounter{}
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	return o, nil
}
