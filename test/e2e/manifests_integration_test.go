//go:build integration

package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/test/lab"
)

// TestManifestsApply: `kubectl apply -k manifests/edgemesh` is accepted by a real apiserver
// and creates the DaemonSet with its RBAC and configuration.
func TestManifestsApply(t *testing.T) {
	run := lab.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp, err := run.StartControlPlane(ctx, lab.ControlPlaneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bin, err := lab.KubernetesBinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), "--kubeconfig", cp.Kubeconfig,
		"apply", "-k", filepath.Join(lab.RepoRoot(), "manifests", "edgemesh")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k: %v\n%s", err, out)
	}
	t.Logf("kubectl apply -k manifests/edgemesh:\n%s", out)
	c, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.AppsV1().DaemonSets("outpost-system").Get(ctx, "edgemesh-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || spec.ServiceAccountName != "edgemesh-agent" || len(spec.Tolerations) == 0 {
		t.Fatalf("DaemonSet pod spec: hostNetwork=%v sa=%q tolerations=%v", spec.HostNetwork, spec.ServiceAccountName, spec.Tolerations)
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Get(ctx, "outpost:edgemesh-agent", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	cms, err := c.CoreV1().ConfigMaps("outpost-system").List(ctx, metav1.ListOptions{})
	if err != nil || len(cms.Items) == 0 {
		t.Fatalf("configmaps: %v, %v", cms, err)
	}
}
