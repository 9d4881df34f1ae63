package edged

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/cri"
)

func TestPodStartsWithConfig(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "shop"}, Data: map[string]string{"mode": "fast", "LEVEL": "3"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "shop"}, Data: map[string][]byte{"password": []byte("s3cret")}}
	c := app("web")
	c.Args = []string{"--mode=$(MODE)", "--name=$(POD_NAME)", "$$(KEEP)", "$(UNDEFINED)"}
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	c.Env = []corev1.EnvVar{
		{Name: "GREETING", Value: "hello"},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "COMBINED", Value: "$(GREETING)-$(MODE)"},
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/app", ReadOnly: true}}
	c.Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}}
	pod := testPod("web", c)
	pod.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}
	h := newHarness(t, cm, sec, pod)

	if err := h.sync("shop/web"); err != nil {
		t.Fatal(err)
	}
	if len(h.rt.sandboxes) != 1 {
		t.Fatalf("%d sandboxes", len(h.rt.sandboxes))
	}
	for _, sb := range h.rt.sandboxes {
		cfg := sb.cfg
		if cfg.Hostname != "web" || cfg.Metadata.Uid != "uid-web" || cfg.Metadata.Attempt != 0 {
			t.Errorf("sandbox metadata %v hostname %q", cfg.Metadata, cfg.Hostname)
		}
		if !slices.Equal(cfg.DnsConfig.Servers, []string{DefaultClusterDNS}) ||
			!slices.Equal(cfg.DnsConfig.Searches, []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}) {
			t.Errorf("dns %v", cfg.DnsConfig)
		}
		if cfg.Labels[cri.LabelPodName] != "web" || cfg.Labels[cri.LabelPodNamespace] != "shop" || cfg.Labels[cri.LabelPodUID] != "uid-web" {
			t.Errorf("sandbox labels %v", cfg.Labels)
		}
		if !strings.HasSuffix(cfg.LogDirectory, "/shop_web_uid-web") {
			t.Errorf("log dir %s", cfg.LogDirectory)
		}
		if len(cfg.PortMappings) != 1 || cfg.PortMappings[0].HostPort != 18080 {
			t.Errorf("ports %v", cfg.PortMappings)
		}
		if cfg.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_POD {
			t.Error("network mode not POD")
		}
	}
	cfg := h.rt.running()["web"]
	if cfg == nil {
		t.Fatal("web not running")
	}
	env := envMap(cfg)
	want := map[string]string{
		"GREETING": "hello", "MODE": "fast", "PASSWORD": "s3cret", "POD_NAME": "web", "POD_IP": "10.244.0.1",
		"NODE": testNode, "COMBINED": "hello-fast", "CFG_mode": "fast", "CFG_LEVEL": "3",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if !slices.Equal(cfg.Args, []string{"--mode=fast", "--name=web", "$(KEEP)", "$(UNDEFINED)"}) {
		t.Errorf("args %q", cfg.Args)
	}
	if len(cfg.Mounts) != 1 || cfg.Mounts[0].ContainerPath != "/etc/app" || !cfg.Mounts[0].Readonly || !strings.Contains(cfg.Mounts[0].HostPath, "uid-web/volumes/kubernetes.io~configmap/config") {
		t.Errorf("mounts %v", cfg.Mounts)
	}
	if cfg.Labels[cri.LabelContainerName] != "web" || cfg.Annotations[cri.AnnotationContainerHash] != containerHash(&pod.Spec.Containers[0]) || cfg.Annotations[cri.AnnotationRestartCount] != "0" {
		t.Errorf("container labels %v annotations %v", cfg.Labels, cfg.Annotations)
	}
	if cfg.LogPath != "web/0.log" || cfg.Image.Image != "id-outpost.local/testapp:v1" {
		t.Errorf("log path %q image %v", cfg.LogPath, cfg.Image)
	}

	got, fin := h.sink.last(t)
	s := got.Status
	if fin || s.Phase != corev1.PodRunning || s.PodIP != "10.244.0.1" || s.HostIP != "192.168.1.10" || s.QOSClass != corev1.PodQOSBestEffort || s.StartTime == nil {
		t.Errorf("status %+v", s)
	}
	cs := s.ContainerStatuses
	if len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready || !strings.HasPrefix(cs[0].ContainerID, "containerd://") || cs[0].ImageID == "" {
		t.Errorf("container status %+v", cs)
	}
	for _, c := range s.Conditions {
		if c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s is %s", c.Type, c.Status)
		}
	}
}

func TestHostNetworkSandbox(t *testing.T) {
	pod := testPod("hn", app("a"))
	pod.Spec.HostNetwork = true
	h := newHarness(t, pod)
	if err := h.sync("shop/hn"); err != nil {
		t.Fatal(err)
	}
	for _, sb := range h.rt.sandboxes {
		if sb.cfg.Hostname != "" {
			t.Errorf("host-network sandbox sets hostname %q", sb.cfg.Hostname)
		}
		if sb.cfg.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE {
			t.Error("network mode not NODE")
		}
	}
	got, _ := h.sink.last(t)
	if got.Status.PodIP != "192.168.1.10" {
		t.Errorf("host-network pod IP %q", got.Status.PodIP)
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	h := newHarness(t, testPod("crash", app("a")))
	sync := func() {
		t.Helper()
		if err := h.sync("shop/crash"); err != nil {
			t.Fatal(err)
		}
	}
	waitingReason := func() string {
		got, _ := h.sink.last(t)
		if w := got.Status.ContainerStatuses[0].State.Waiting; w != nil {
			return w.Reason
		}
		return ""
	}
	sync()
	h.rt.exit("a", 1)
	h.clock.Step(time.Second)
	sync() // first restart: immediate
	if n := h.rt.count("StartContainer"); n != 2 {
		t.Fatalf("%d starts after first crash, want 2", n)
	}
	h.rt.exit("a", 1)
	h.clock.Step(time.Second)
	sync()
	if n := h.rt.count("StartContainer"); n != 2 || waitingReason() != "CrashLoopBackOff" {
		t.Fatalf("second crash: %d starts, waiting %q", n, waitingReason())
	}
	got, _ := h.sink.last(t)
	cs := got.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || got.Status.Phase != corev1.PodRunning {
		t.Errorf("status in back-off: %+v phase %s", cs, got.Status.Phase)
	}
	h.clock.Step(8 * time.Second) // 9 s after the exit: still waiting
	sync()
	if n := h.rt.count("StartContainer"); n != 2 {
		t.Fatalf("restarted before 10 s")
	}
	h.clock.Step(2 * time.Second)
	sync()
	if n := h.rt.count("StartContainer"); n != 3 {
		t.Fatalf("not restarted after 10 s: %d starts", n)
	}
	h.rt.exit("a", 1)
	h.clock.Step(15 * time.Second)
	sync()
	if n := h.rt.count("StartContainer"); n != 3 {
		t.Fatal("restarted before 20 s")
	}
	h.clock.Step(6 * time.Second)
	sync()
	if n := h.rt.count("StartContainer"); n != 4 {
		t.Fatal("not restarted after 20 s")
	}
	if cfg := h.rt.running()["a"]; cfg.Annotations[cri.AnnotationRestartCount] != "3" || cfg.LogPath != "a/3.log" {
		t.Errorf("restart count annotation %v log %s", cfg.Annotations, cfg.LogPath)
	}
}

func TestRestartPolicyNeverSucceeds(t *testing.T) {
	pod := testPod("job", app("a"))
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	h := newHarness(t, pod)
	h.sync("shop/job")
	h.rt.exit("a", 0)
	if err := h.sync("shop/job"); err != nil {
		t.Fatal(err)
	}
	got, _ := h.sink.last(t)
	if got.Status.Phase != corev1.PodSucceeded || h.rt.count("StartContainer") != 1 {
		t.Errorf("phase %s, %d starts", got.Status.Phase, h.rt.count("StartContainer"))
	}
	if got.Status.ContainerStatuses[0].State.Terminated.Reason != "Completed" {
		t.Errorf("state %+v", got.Status.ContainerStatuses[0].State)
	}
}

func TestDeletionStopsThenFinalizes(t *testing.T) {
	pod := testPod("del", app("a"))
	pod.Spec.TerminationGracePeriodSeconds = ptrTo[int64](30)
	h := newHarness(t, pod)
	h.sync("shop/del")
	del := pod.DeepCopy()
	now := metav1.Now()
	del.DeletionTimestamp, del.DeletionGracePeriodSeconds = &now, ptrTo[int64](5)
	h.updatePod(del)
	before := len(h.rt.Calls())
	if err := h.sync("shop/del"); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range h.rt.Calls()[before:] {
		kinds = append(kinds, c)
	}
	want := []string{"StopContainer a 5", "StopPodSandbox", "RemovePodSandbox"}
	idx := 0
	for _, c := range kinds {
		if idx < len(want) && strings.HasPrefix(c, want[idx]) {
			idx++
		}
	}
	if idx != len(want) {
		t.Fatalf("calls %q, want in order %q", kinds, want)
	}
	got, fin := h.sink.last(t)
	if !fin || got.Status.Phase != corev1.PodFailed || got.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Errorf("final status finalize=%v %+v", fin, got.Status)
	}
	if got.UID != "uid-del" {
		t.Errorf("final status lacks the uid precondition: %q", got.UID)
	}
	n := h.sink.count()
	h.sync("shop/del")
	if h.sink.count() != n {
		t.Error("finalized pod sent again")
	}
}

func TestAdoptionAfterRestart(t *testing.T) {
	h := newHarness(t, testPod("keep", app("a"), app("b")))
	if err := h.sync("shop/keep"); err != nil {
		t.Fatal(err)
	}
	creates := h.rt.count("CreateContainer")
	// Restart edged (same runtime, same store): nothing is recreated.
	h.e = h.newEdged(h.rt)
	if err := h.sync("shop/keep"); err != nil {
		t.Fatal(err)
	}
	if h.rt.count("CreateContainer") != creates || h.rt.count("RunPodSandbox") != 1 || h.rt.count("StopContainer") != 0 {
		t.Fatalf("restart recreated: %q", h.rt.Calls())
	}
	// Restart again with b's spec changed in the store: b is replaced, a is kept.
	p, _ := h.e.pods.Pods("shop").Get("keep")
	p = p.DeepCopy()
	p.Spec.Containers[1].Args = []string{"--new"}
	h.updatePod(p)
	h.e = h.newEdged(h.rt)
	if err := h.sync("shop/keep"); err != nil {
		t.Fatal(err)
	}
	if h.rt.count("StopContainer b") != 1 || h.rt.count("StopContainer a") != 0 || h.rt.count("CreateContainer b") != 2 {
		t.Fatalf("calls %q", h.rt.Calls())
	}
	if b := h.rt.running()["b"]; b == nil || !slices.Equal(b.Args, []string{"--new"}) || b.Annotations[cri.AnnotationRestartCount] != "1" {
		t.Errorf("b not replaced with the new spec: %v", b)
	}
}

func TestImageNeverPull(t *testing.T) {
	c := app("a")
	c.Image, c.ImagePullPolicy = "outpost.local/absent:v1", corev1.PullNever
	h := newHarness(t, testPod("img", c))
	h.sync("shop/img")
	got, _ := h.sink.last(t)
	w := got.Status.ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "ErrImageNeverPull" || !strings.Contains(w.Message, "outpost.local/absent:v1") {
		t.Fatalf("waiting %+v", w)
	}
	if h.rt.count("CreateContainer") != 0 || h.images.pulls != 0 || got.Status.Phase != corev1.PodPending {
		t.Error("created or pulled an image with policy Never")
	}
}

func TestImagePullBackOff(t *testing.T) {
	c := app("a")
	c.Image = "outpost.local/absent:v1"
	h := newHarness(t, testPod("pull", c))
	h.sync("shop/pull")
	got, _ := h.sink.last(t)
	if w := got.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ErrImagePull" {
		t.Fatalf("first: %+v", w)
	}
	h.clock.Step(time.Second)
	h.sync("shop/pull")
	got, _ = h.sink.last(t)
	if w := got.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" || h.images.pulls != 1 {
		t.Fatalf("in back-off: %+v, %d pulls", w, h.images.pulls)
	}
	h.images.pullable["outpost.local/absent:v1"] = true
	h.clock.Step(10 * time.Second)
	h.sync("shop/pull")
	if h.rt.running()["a"] == nil {
		t.Error("not started after the pull worked")
	}
}

func TestMissingConfigMapNamedThenStarts(t *testing.T) {
	pod := testPod("needs", app("a"))
	pod.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}}}
	h := newHarness(t, pod)
	if err := h.sync("shop/needs"); err == nil {
		t.Error("sync with a missing configmap did not ask for a retry")
	}
	got, _ := h.sink.last(t)
	w := got.Status.ContainerStatuses[0].State.Waiting
	if got.Status.Phase != corev1.PodPending || w == nil || w.Reason != "ContainerCreating" || !strings.Contains(w.Message, `configmap "app-config" not found`) || !strings.Contains(got.Status.Message, "app-config") {
		t.Fatalf("status %+v", got.Status)
	}
	if len(h.rt.sandboxes) != 0 {
		t.Error("sandbox started without its volumes")
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "shop"}, Data: map[string]string{"k": "v"}}
	if _, err := h.client.CoreV1().ConfigMaps("shop").Create(h.ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := h.e.cms.ConfigMaps("shop").Get("app-config"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.sync("shop/needs"); err != nil {
		t.Fatal(err)
	}
	if h.rt.running()["a"] == nil {
		t.Error("not started once the configmap arrived")
	}
}

func TestStatusSentOnlyOnChange(t *testing.T) {
	h := newHarness(t, testPod("quiet", app("a")))
	h.sync("shop/quiet")
	n := h.sink.count()
	for range 3 {
		h.clock.Step(time.Second)
		h.sync("shop/quiet")
	}
	if h.sink.count() != n {
		t.Fatalf("unchanged status sent again: %d → %d", n, h.sink.count())
	}
	h.rt.exit("a", 2)
	h.sync("shop/quiet")
	if h.sink.count() == n {
		t.Fatal("changed status not sent")
	}
}

func TestOrphanRemoved(t *testing.T) {
	h := newHarness(t, testPod("gone", app("a")))
	h.sync("shop/gone")
	if err := h.client.CoreV1().Pods("shop").Delete(h.ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitLister("shop", "gone", func(p *corev1.Pod) bool { return p == nil })
	if err := h.sync("shop/gone"); err != nil {
		t.Fatal(err)
	}
	if len(h.rt.sandboxes) != 0 || len(h.rt.containers) != 0 {
		t.Errorf("orphan left: %d sandboxes, %d containers", len(h.rt.sandboxes), len(h.rt.containers))
	}
	if h.rt.count("StopContainer a 30") != 1 {
		t.Errorf("calls %q", h.rt.Calls())
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	pod := testPod("init", app("main"))
	pod.Spec.InitContainers = []corev1.Container{app("one"), app("two")}
	h := newHarness(t, pod)
	h.sync("shop/init")
	if r := h.rt.running(); r["one"] == nil || r["two"] != nil || r["main"] != nil {
		t.Fatalf("running %v", r)
	}
	got, _ := h.sink.last(t)
	if got.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s during init", got.Status.Phase)
	}
	h.rt.exit("one", 0)
	h.sync("shop/init")
	h.rt.exit("two", 0)
	h.sync("shop/init")
	if r := h.rt.running(); r["main"] == nil {
		t.Fatalf("main not started: %q", h.rt.Calls())
	}
	got, _ = h.sink.last(t)
	if got.Status.Phase != corev1.PodRunning || len(got.Status.InitContainerStatuses) != 2 || got.Status.InitContainerStatuses[1].State.Terminated == nil {
		t.Errorf("status %+v", got.Status)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)":       "1",
		"x$(A)y$(B)": "x1ytwo",
		"$$(A)":      "$(A)",
		"$(C)":       "$(C)",
		"$(A":        "$(A",
		"$":          "$",
		"plain":      "plain",
		"$$$(B)":     "$two",
		"cost: $5":   "cost: $5",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
