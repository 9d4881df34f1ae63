//go:build integration

package edged

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
	"github.com/outpostmesh/outpost/edgecore/edged/prober"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
	"github.com/outpostmesh/outpost/edgecore/metaserver"
	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/test/images"
	"github.com/outpostmesh/outpost/test/lab"
)

var (
	podsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cmsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	nodesGVR   = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// statusLog keeps the newest status per pod.
type statusLog struct {
	mu   sync.Mutex
	last map[string]hubproto.StatusUpdate
	n    int
}

func (s *statusLog) send(_ context.Context, us []hubproto.StatusUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range us {
		s.last[u.Namespace+"/"+u.Name] = u
		s.n++
	}
	return nil
}

func (s *statusLog) get(key string) (*corev1.Pod, bool) {
	s.mu.Lock()
	u, ok := s.last[key]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	var p corev1.Pod
	if json.Unmarshal(u.Object, &p) != nil {
		return nil, false
	}
	return &p, u.Finalize
}

// TestEdgedRealContainerd runs edged against a lab containerd with the metaserver over a
// meta store the test fills: a pod with a configMap volume, env and a readiness probe reaches
// Running and Ready with an IP from the node's podCIDR, sees a configMap update, survives an
// edged restart without being recreated, and is stopped and finalized on deletion; a crashing
// pod goes into CrashLoopBackOff.
func TestEdgedRealContainerd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logger, _ := ktesting.NewTestContext(t)
	r := lab.ForTest(t)
	n, err := r.NewNetwork(lab.Topology{Sites: []lab.SiteSpec{{Name: "ed", NAT: lab.EasyNAT, Hosts: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	host := n.Sites["ed"].Hosts[0]
	start := time.Now()
	cd, err := host.StartContainerd(ctx, lab.ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd ready in %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	store, err := metastore.Open(filepath.Join(dir, "meta.db"), metastore.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ms, err := metaserver.New(metaserver.Options{Store: store, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msCtx, msCancel := context.WithCancel(ctx)
	msDone := make(chan struct{})
	go func() { defer close(msDone); ms.Serve(msCtx, ln) }()
	defer func() { msCancel(); <-msDone }()

	const node = "edge-lab"
	upsert := func(gvr schema.GroupVersionResource, obj metav1.Object, rv int) {
		t.Helper()
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Apply(ctx, []metastore.Change{{Op: metastore.Upsert, Resource: gvr, Namespace: obj.GetNamespace(), Name: obj.GetName(), CloudRV: fmt.Sprint(rv), Object: b}}); err != nil {
			t.Fatal(err)
		}
	}
	upsert(nodesGVR, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: corev1.NodeSpec{PodCIDR: "10.244.50.0/24"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.1.0.11"}}}}, 1)
	upsert(cmsGVR, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "shop"}, Data: map[string]string{"mode": "fast"}}, 2)
	upsert(secretsGVR, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "shop"}, Data: map[string][]byte{"password": []byte("s3cret")}}, 2)
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-web-1"},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptrTo[int64](10),
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}}},
			},
			Containers: []corev1.Container{{
				Name: "app", Image: images.TestAppImage, ImagePullPolicy: corev1.PullNever,
				Env: []corev1.EnvVar{{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
					{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app"}, {Name: "creds", MountPath: "/etc/creds", ReadOnly: true},
					{Name: "scratch", MountPath: "/scratch"}, {Name: "info", MountPath: "/etc/info"}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3},
			}},
		},
	}
	upsert(podsGVR, web, 3)

	sources, err := NewSources(&rest.Config{Host: "http://" + ln.Addr().String()}, node)
	if err != nil {
		t.Fatal(err)
	}
	sink := &statusLog{last: map[string]hubproto.StatusUpdate{}}
	rootDir, logsDir := filepath.Join(dir, "edged"), filepath.Join(dir, "logs")
	startEdged := func() (stop func()) {
		pm := prober.New(prober.Options{Exec: cri.Execer{Runtime: cd.Runtime}, Logger: logger, Dialer: host})
		e, err := New(Options{
			NodeName: node, Sources: sources, Runtime: cd.Runtime, Images: cd.ImageService, Status: sink.send, Prober: pm,
			RootDir: rootDir, PodLogsDir: logsDir, CNIConfDir: cd.CNIConfDir, SyncPeriod: 2 * time.Second, Logger: logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		ectx, ecancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { pm.Run(ectx) })
		wg.Go(func() {
			if err := e.Run(ectx); err != nil {
				t.Errorf("edged: %v", err)
			}
		})
		return func() { ecancel(); wg.Wait() }
	}
	stop := startEdged()
	defer func() { stop() }()

	waitFor := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				p, fin := sink.get("shop/web")
				t.Fatalf("timed out waiting for %s; last web status (finalize=%v): %+v", what, fin, p)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	start = time.Now()
	var running *corev1.Pod
	waitFor("web running and ready", 60*time.Second, func() bool {
		p, _ := sink.get("shop/web")
		if p == nil || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 || !p.Status.ContainerStatuses[0].Ready {
			return false
		}
		running = p
		return true
	})
	t.Logf("web running and ready %v after edged start, pod IP %s", time.Since(start).Round(time.Millisecond), running.Status.PodIP)
	if !strings.HasPrefix(running.Status.PodIP, "10.244.50.") || running.Status.HostIP != "10.1.0.11" {
		t.Errorf("pod IP %q host IP %q", running.Status.PodIP, running.Status.HostIP)
	}
	firstID := running.Status.ContainerStatuses[0].ContainerID

	// The transport dials on a context of its own that outlives a timed-out request: bound the
	// dial too, or a dial to a pod that is gone outlives the test (goleak).
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return host.DialContext(ctx, network, addr)
	}
	tr := &http.Transport{DialContext: dial}
	defer tr.CloseIdleConnections()
	httpc := &http.Client{Timeout: 3 * time.Second, Transport: tr}
	get := func(path string) string {
		resp, err := httpc.Get("http://" + running.Status.PodIP + ":8080" + path)
		if err != nil {
			return "error: " + err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if env := get("/env"); !strings.Contains(env, `"MODE":"fast"`) || !strings.Contains(env, running.Status.PodIP) {
		t.Errorf("env: %s", env)
	}
	if f := get("/file?path=/etc/app/mode"); f != "fast" {
		t.Errorf("configmap file: %q", f)
	}
	if f := get("/file?path=/etc/creds/password"); f != "s3cret" {
		t.Errorf("secret file: %q", f)
	}
	if f := get("/file?path=/etc/info/ip"); f != running.Status.PodIP {
		t.Errorf("downward API podIP file: %q", f)
	}
	webVols := filepath.Join(rootDir, "pods", "uid-web-1", "volumes")
	if !tmpfsAt(t, filepath.Join(webVols, "kubernetes.io~empty-dir", "scratch")) {
		t.Error("memory emptyDir is not a tmpfs mount")
	}
	if !tmpfsAt(t, filepath.Join(webVols, "kubernetes.io~secret", "creds")) {
		t.Error("secret volume is not a tmpfs mount")
	}
	if tmpfsAt(t, filepath.Join(webVols, "kubernetes.io~configmap", "cfg")) {
		t.Error("configMap volume is a tmpfs mount")
	}
	upsert(cmsGVR, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "shop"}, Data: map[string]string{"mode": "slow"}}, 4)
	waitFor("configmap update in the container", 30*time.Second, func() bool { return get("/file?path=/etc/app/mode") == "slow" })

	// Restart edged: the running container is adopted, not recreated.
	stop()
	stop = startEdged()
	time.Sleep(3 * time.Second) // a few relists and a resync
	if p, _ := sink.get("shop/web"); p == nil || p.Status.ContainerStatuses[0].ContainerID != firstID || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("container recreated after restart: %+v", p.Status.ContainerStatuses)
	}

	// A crashing pod backs off.
	crash := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: "shop", UID: "uid-crash-1"},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{{
			Name: "app", Image: images.TestAppImage, ImagePullPolicy: corev1.PullNever, Args: []string{"exit", "3"},
			VolumeMounts: []corev1.VolumeMount{{Name: "creds", MountPath: "/etc/creds"}},
		}}, Volumes: []corev1.Volume{{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}}}},
	}
	upsert(podsGVR, crash, 5)
	crashDir := filepath.Join(rootDir, "pods", "uid-crash-1")
	waitFor("CrashLoopBackOff", 60*time.Second, func() bool {
		p, _ := sink.get("shop/crash")
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" && cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ExitCode == 3
	})

	// crash is deleted in the cloud while edged is down: the restarted edged removes it.
	if !tmpfsAt(t, filepath.Join(crashDir, "volumes", "kubernetes.io~secret", "creds")) {
		t.Error("crash's secret volume is not a tmpfs mount")
	}
	stop()
	if _, err := store.Apply(ctx, []metastore.Change{{Op: metastore.Delete, Resource: podsGVR, Namespace: "shop", Name: "crash", CloudRV: "10"}}); err != nil {
		t.Fatal(err)
	}
	stop = startEdged()
	start = time.Now()
	waitFor("orphan removed", 30*time.Second, func() bool {
		sbs, err := cd.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{cri.LabelPodUID: "uid-crash-1"}}})
		return err == nil && len(sbs.Items) == 0
	})
	t.Logf("orphan removed %v after edged start", time.Since(start).Round(time.Millisecond))
	waitFor("orphan's secret tmpfs unmounted", 10*time.Second, func() bool { return !mounted(t, crashDir) })

	// web is deleted: stopped within the grace period, finalized, nothing left.
	d := web.DeepCopy()
	now := metav1.Now()
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds = &now, ptrTo[int64](5)
	upsert(podsGVR, d, 11)
	start = time.Now()
	waitFor("final status", 30*time.Second, func() bool { _, fin := sink.get("shop/web"); return fin })
	t.Logf("web finalized %v after deletion", time.Since(start).Round(time.Millisecond))
	if mounted(t, rootDir) {
		t.Error("tmpfs left mounted after deletion")
	}
	sbs, err := cd.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(sbs.Items) != 0 {
		t.Errorf("sandboxes left: %v %v", sbs, err)
	}
	if p, _ := sink.get("shop/web"); p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		t.Errorf("final phase %s", p.Status.Phase)
	}
}

// mounted reports whether anything is mounted at or under dir.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	mps, err := volume.HostMounter{}.MountPoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(mps) > 0
}

// tmpfsAt reports whether dir itself is a mount point holding a tmpfs, and logs its size.
func tmpfsAt(t *testing.T, dir string) bool {
	t.Helper()
	mps, err := volume.HostMounter{}.MountPoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if !slices.Contains(mps, dir) || syscall.Statfs(dir, &st) != nil || st.Type != tmpfsMagic {
		return false
	}
	t.Logf("tmpfs at %s: %d KiB", filepath.Base(dir), int64(st.Blocks)*st.Bsize/1024)
	return true
}

// tmpfsMagic is TMPFS_MAGIC from linux/magic.h, statfs' f_type of a tmpfs.
const tmpfsMagic = 0x01021994
