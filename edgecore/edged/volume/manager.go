package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Plugin directory names under pods/<uid>/volumes, the kubelet's, so an operator finds them.
const (
	dirEmptyDir  = "kubernetes.io~empty-dir"
	dirConfigMap = "kubernetes.io~configmap"
	dirSecret    = "kubernetes.io~secret"
	dirDownward  = "kubernetes.io~downward-api"
	dirProjected = "kubernetes.io~projected"
)

// Manager sets up and tears down pod volumes under RootDir/pods/<uid>.
type Manager struct {
	o Options

	mu     sync.Mutex
	tokens map[tokenKey]token // projected tokens, refreshed before they expire
}

// New returns a Manager.
func New(o Options) (*Manager, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Manager{o: o, tokens: map[tokenKey]token{}}, nil
}

// PodDir is the directory of a pod's volumes and state.
func (m *Manager) PodDir(uid types.UID) string {
	return filepath.Join(m.o.RootDir, "pods", string(uid))
}

// Setup makes every volume of pod ready (and refreshes configMap, secret, downward API and
// projected contents) and returns the host path of each volume by name. All volumes are tried;
// the error joins every failure, so a status can name each missing object.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod, ips PodIPs) (map[string]string, error) {
	paths := make(map[string]string, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		p, err := m.setupOne(ctx, pod, v, ips)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", v.Name, err))
			continue
		}
		paths[v.Name] = p
	}
	return paths, errors.Join(errs...)
}

func (m *Manager) setupOne(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, ips PodIPs) (string, error) {
	dir := func(plugin string) string { return filepath.Join(m.PodDir(pod.UID), "volumes", plugin, v.Name) }
	s := &v.VolumeSource
	switch {
	case s.HostPath != nil:
		return s.HostPath.Path, checkHostPath(s.HostPath)
	case s.EmptyDir != nil:
		return dir(dirEmptyDir), m.setupEmptyDir(dir(dirEmptyDir), s.EmptyDir)
	case s.ConfigMap != nil:
		out := map[string]file{}
		if err := m.configMapPayload(pod.Namespace, s.ConfigMap, nil, out); err != nil {
			return "", err
		}
		_, err := writeAtomic(dir(dirConfigMap), out)
		return dir(dirConfigMap), err
	case s.Secret != nil:
		out := map[string]file{}
		if err := m.secretPayload(pod.Namespace, s.Secret.SecretName, s.Secret.Items, s.Secret.Optional, s.Secret.DefaultMode, out); err != nil {
			return "", err
		}
		return dir(dirSecret), m.writeSensitive(dir(dirSecret), out)
	case s.DownwardAPI != nil:
		out := map[string]file{}
		if err := downwardPayload(pod, s.DownwardAPI.Items, s.DownwardAPI.DefaultMode, ips, out); err != nil {
			return "", err
		}
		_, err := writeAtomic(dir(dirDownward), out)
		return dir(dirDownward), err
	case s.Projected != nil:
		out := map[string]file{}
		if err := m.projectedPayload(ctx, pod, v.Name, s.Projected, ips, out); err != nil {
			return "", err
		}
		if sensitive(s) {
			return dir(dirProjected), m.writeSensitive(dir(dirProjected), out)
		}
		// Only configMaps and downward API: on disk, like those volumes on their own.
		if err := os.MkdirAll(filepath.Dir(dir(dirProjected)), 0o700); err != nil {
			return "", fmt.Errorf("volume: %w", err)
		}
		_, err := writeAtomic(dir(dirProjected), out)
		return dir(dirProjected), err
	}
	return "", fmt.Errorf("%w (only emptyDir, hostPath, configMap, secret, downwardAPI, projected)", ErrUnsupported)
}

func (m *Manager) setupEmptyDir(dir string, src *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	if src.Medium != corev1.StorageMediumMemory {
		return os.Chmod(dir, 0o777) // world-writable as in the kubelet: any container user may write
	}
	if ok, err := m.isMounted(dir); err != nil || ok {
		return err
	}
	var size int64
	if src.SizeLimit != nil {
		size = src.SizeLimit.Value()
	}
	return m.o.Mounter.MountTmpfs(dir, size)
}

// TearDown unmounts everything mounted under the pod's directory (deepest first) and removes
// it. A failed unmount keeps the directory: removing through a mount would empty its contents.
func (m *Manager) TearDown(uid types.UID) error {
	dir := m.PodDir(uid)
	m.forgetTokens(uid)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	mps, err := m.o.Mounter.MountPoints(dir)
	if err != nil {
		return err
	}
	slices.SortFunc(mps, func(a, b string) int { return len(b) - len(a) })
	for _, mp := range mps {
		if err := m.o.Mounter.Unmount(mp); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("volume: remove %s: %w", dir, err)
	}
	return nil
}

// PodUIDs lists the pods that have a directory, for cleaning up after pods that went away.
func (m *Manager) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(filepath.Join(m.o.RootDir, "pods"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("volume: %w", err)
	}
	out := make([]types.UID, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, types.UID(e.Name()))
		}
	}
	return out, nil
}
