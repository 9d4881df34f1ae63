//go:build integration

package lab

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestKubelet runs the real kubelet against a lab containerd: its Node becomes Ready, a pod
// reaches Running with an IP, the apiserver reads its logs through the kubelet, the pod is
// deleted, and Close leaves no kubelet, sandbox, mount or Node behind.
func TestKubelet(t *testing.T) {
	run := ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	network, err := run.NewNetwork(Topology{Public: []string{"cloud", "node"}})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := run.StartControlPlane(ctx, ControlPlaneOptions{Host: network.Public["cloud"]})
	if err != nil {
		t.Fatal(err)
	}
	host := network.Public["node"]
	ctd, err := host.StartContainerd(ctx, ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	k, err := cp.StartKubelet(ctx, host, KubeletOptions{NodeName: "node-1", CRIEndpoint: ctd.Socket, CNIConfDir: ctd.CNIConfDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubelet Ready in %v, RSS %d MiB", time.Since(start).Round(time.Millisecond), RSS(k.Process.Pid)>>20)

	client, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.36.3" || node.Spec.PodCIDR != k.PodCIDR {
		t.Fatalf("node: kubelet %q, podCIDR %q (want v1.36.3, %s)", node.Status.NodeInfo.KubeletVersion, node.Spec.PodCIDR, k.PodCIDR)
	}
	// The ServiceAccount admission plugin wants the namespace's default ServiceAccount, which
	// only a controller-manager would create.
	_, err = client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:                     "node-1",
			AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{
				Name: "app", Image: "outpost.local/testapp:v1", ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
	// ResourceVersion "0": from the watch cache's state. "Most recent" would need a
	// consistent read, which the lab's etcd 3.4 cannot give a watch (no progress requests).
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "app").String(), ResourceVersion: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start = time.Now()
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := kubeletWaitPod(ctx, t, w, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })
	t.Logf("pod Running with IP %s after %v", running.Status.PodIP, time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(running.Status.PodIP, strings.TrimSuffix(k.PodCIDR, "0/24")) {
		t.Errorf("pod IP %s outside the node's pod CIDR %s", running.Status.PodIP, k.PodCIDR)
	}

	// Logs go apiserver → kubelet (node InternalIP:10250, TLS both ways) → the CRI log file.
	var logs string
	for i := 0; i < 50; i++ {
		b, err := client.CoreV1().Pods("default").GetLogs("app", &corev1.PodLogOptions{Container: "app"}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("logs through the kubelet: %v", err)
		}
		if logs = string(b); strings.Contains(logs, "listening") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs, "testapp") || !strings.Contains(logs, "listening") {
		t.Fatalf("logs %q lack testapp's startup line", logs)
	}

	if err := client.CoreV1().Pods("default").Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeletWaitPod(ctx, t, w, nil)
	sandboxes, err := ctd.Runtime.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sandboxes.Items {
		if sb.State == cri.PodSandboxState_SANDBOX_READY {
			t.Errorf("sandbox %s of %s still ready after the pod's deletion", sb.Id, sb.Metadata.GetName())
		}
	}

	// A second pod is left running for Close to remove.
	pod.Name = "left"
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := client.CoreV1().Pods("default").Get(ctx, "left", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second pod not Running: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	pid := k.Process.Pid
	if err := k.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if processAlive(pid) {
		t.Errorf("kubelet %d alive after Close", pid)
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node after Close: %v, want NotFound", err)
	}
	if _, err := client.CoreV1().Pods("default").Get(ctx, "left", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after Close: %v, want NotFound", err)
	}
	sandboxes, err = ctd.Runtime.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sandboxes.Items {
		t.Errorf("sandbox %s of pod %s (%s) survived Close", sb.Id, sb.Metadata.GetName(), sb.State)
	}
	if out, _ := exec.Command("sh", "-c", "grep -F "+k.RootDir+" /proc/self/mountinfo").Output(); len(out) > 0 {
		t.Errorf("mounts under the kubelet's root dir after Close:\n%s", out)
	}
	if _, err := os.Stat(k.cniFile); !os.IsNotExist(err) {
		t.Errorf("CNI conflist after Close: %v", err)
	}
}

// kubeletWaitPod reads w until ok accepts the pod (ok nil: until the pod is deleted).
func kubeletWaitPod(ctx context.Context, t *testing.T, w watch.Interface, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	timeout := time.After(90 * time.Second)
	var last *corev1.Pod
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				t.Fatal("watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				t.Logf("watch event %s: %v", ev.Type, ev.Object)
				continue
			}
			last = p
			if ok == nil && ev.Type == watch.Deleted {
				return p
			}
			if ok != nil && ok(p) {
				return p
			}
		case <-timeout:
			if last != nil {
				t.Fatalf("pod %s: phase %s, conditions %+v, containers %+v", last.Name, last.Status.Phase, last.Status.Conditions, last.Status.ContainerStatuses)
			}
			t.Fatal("no pod event")
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}
