package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// RepoRoot is the root of the Outpost source tree this package was built from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var k8sBin struct {
	once sync.Once
	dir  string
	err  error
}

// KubernetesBinDir returns the directory with kube-apiserver, kubectl, kube-controller-manager,
// kube-scheduler and kubelet: $OUTPOST_K8S_BIN if set, else what hack/build-k8s.sh prints (it
// builds them once and caches them).
func KubernetesBinDir() (string, error) {
	k8sBin.once.Do(func() {
		if d := os.Getenv("OUTPOST_K8S_BIN"); d != "" {
			k8sBin.dir = d
			return
		}
		cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "build-k8s.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			k8sBin.err = fmt.Errorf("lab: hack/build-k8s.sh: %w", err)
			return
		}
		k8sBin.dir = strings.TrimSpace(string(out))
	})
	return k8sBin.dir, k8sBin.err
}
