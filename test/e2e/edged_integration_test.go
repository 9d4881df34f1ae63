//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/test/edgelab"
	"github.com/outpostmesh/outpost/test/lab"
)

// edgedNS is the namespace TestEdged's workloads run in.
const edgedNS = "edged-e2e"

// Names the edge nodes carry (cloudcore/certs/node.go) and the testapp image of the lab.
const (
	edgeRoleLabel = "node-role.kubernetes.io/edge"
	testappImage  = "outpost.local/testapp:v1"
	podUIDLabel   = "io.kubernetes.pod.uid"
)

// TestEdged runs workloads on edge nodes through the whole chain: apiserver, controller
// manager and scheduler, cloudcore, edgecore with edged, a containerd per edge host. A
// Deployment runs and serves its ConfigMap, which it follows when updated; a DaemonSet covers
// every edge node; liveness failures restart; deleted pods leave no containers; logs and exec
// work through edgecore's stream server; edgecore restarted offline adopts its containers and
// reports status again once back; bad specs end in a status that says why.
func TestEdged(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := lab.ForTest(t)
	bin := filepath.Join(run.Dir, "bin")
	if err := edgelab.Build(bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	l, err := edgelab.Start(ctx, run, edgelab.Options{Bin: bin, Controllers: true, Edged: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	x := &edgedTest{t: t, ctx: ctx, l: l, c: l.Client}
	site := l.Net.Sites["a"]
	step := func(name string, f func(t *testing.T)) {
		t0 := time.Now()
		if !t.Run(name, func(t *testing.T) { x.t = t; f(t) }) {
			t.FailNow() // later steps build on earlier ones
		}
		t.Logf("%s: %v", name, time.Since(t0).Round(time.Millisecond))
	}

	step("join", func(t *testing.T) {
		for _, h := range site.Hosts {
			e, err := l.Join(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.StartEdge(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range site.Hosts {
			x.waitNode(h.Name, 60*time.Second)
		}
		if _, err := x.c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: edgedNS}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Bare pods need the namespace's default ServiceAccount, which the controller manager adds.
		x.poll("default ServiceAccount", 30*time.Second, func() (bool, string) {
			_, err := x.c.CoreV1().ServiceAccounts(edgedNS).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, fmt.Sprint(err)
		})
	})

	var web *corev1.Pod
	step("deployment runs and serves its configmap", func(t *testing.T) {
		x.createConfigMap("web-config", "v1")
		x.createDeployment()
		web = x.waitPodWhere("app=web", 90*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && podReady(p) })
		node := x.node(web.Spec.NodeName)
		_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
		if err != nil || web.Status.PodIP == "" || !cidr.Contains(net.ParseIP(web.Status.PodIP)) {
			t.Fatalf("pod IP %q not in node %s podCIDR %q", web.Status.PodIP, node.Name, node.Spec.PodCIDR)
		}
		host := x.hostOf(web)
		if got := x.get(host, "http://"+net.JoinHostPort(web.Status.PodIP, "8080")+"/file?path=/etc/web/greeting"); got != "v1" {
			t.Errorf("mounted greeting %q, want v1", got)
		}
		if got := x.get(host, "http://"+net.JoinHostPort(web.Status.PodIP, "8080")+"/env"); !strings.Contains(got, `"GREETING":"v1"`) {
			t.Errorf("env lacks GREETING from the configmap: %s", got)
		}
		// edged's tmpfs reaches the container only if edged mounts where containerd looks.
		if got := x.get(host, "http://"+net.JoinHostPort(web.Status.PodIP, "8080")+"/file?path=/proc/self/mounts"); !strings.Contains(got, " /scratch tmpfs ") {
			t.Errorf("memory emptyDir /scratch is not a tmpfs in the container:\n%s", got)
		}
	})

	step("configmap update reaches the container", func(t *testing.T) {
		cm, err := x.c.CoreV1().ConfigMaps(edgedNS).Get(ctx, "web-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["greeting"] = "v2"
		if _, err := x.c.CoreV1().ConfigMaps(edgedNS).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		host, u := x.hostOf(web), "http://"+net.JoinHostPort(web.Status.PodIP, "8080")+"/file?path=/etc/web/greeting"
		x.poll("greeting v2 in the container", 60*time.Second, func() (bool, string) {
			got := x.get(host, u)
			return got == "v2", got
		})
	})

	step("daemonset on every edge node", func(t *testing.T) {
		x.createDaemonSet()
		x.poll("a running agent pod on every edge node", 90*time.Second, func() (bool, string) {
			pods := x.pods("app=agent")
			running := map[string]bool{}
			for _, p := range pods {
				if p.Status.Phase == corev1.PodRunning {
					running[p.Spec.NodeName] = true
				}
			}
			return len(running) == len(site.Hosts), describe(pods)
		})
	})

	var flaky *corev1.Pod
	step("failing liveness restarts the container", func(t *testing.T) {
		c := testappContainer("app")
		c.Env = []corev1.EnvVar{{Name: "FAIL_LIVENESS_AFTER", Value: "2"}}
		c.LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1,
		}
		x.createPod("flaky", c)
		flaky = x.waitPod("flaky", 90*time.Second, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
	})

	step("deleted pod leaves no containers", func(t *testing.T) {
		if err := x.c.CoreV1().Pods(edgedNS).Delete(ctx, "flaky", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		x.poll("flaky gone from the API", 60*time.Second, func() (bool, string) {
			p, err := x.c.CoreV1().Pods(edgedNS).Get(ctx, "flaky", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, ""
			}
			return false, fmt.Sprintf("%v %s", err, describe([]corev1.Pod{ptr.Deref(p, corev1.Pod{})}))
		})
		cri := x.cri(flaky.Spec.NodeName)
		x.poll("flaky's containers and sandboxes removed", 30*time.Second, func() (bool, string) {
			cs, sbs := x.runtimeObjects(cri, string(flaky.UID))
			return len(cs)+len(sbs) == 0, fmt.Sprintf("%d containers, %d sandboxes left", len(cs), len(sbs))
		})
	})

	step("logs and exec through the stream server", func(t *testing.T) {
		host := x.hostOf(web)
		logs := x.get(host, fmt.Sprintf("http://%s/containerLogs/%s/%s/app", edgelab.StreamAddr, edgedNS, web.Name))
		if !strings.Contains(logs, "testapp: listening on") {
			t.Errorf("container logs lack the startup line:\n%s", logs)
		}
		if code := httpStatus(ctx, host, fmt.Sprintf("http://%s/containerLogs/%s/nope/app", edgelab.StreamAddr, edgedNS)); code != http.StatusNotFound {
			t.Errorf("logs of an unknown pod: %d, want 404", code)
		}
		stdout, stderr, err := x.exec(host, web.Name, "app", "testapp", "echo", "hi", "there")
		if err != nil || stdout != "hi there\n" {
			t.Errorf("exec: stdout %q stderr %q err %v", stdout, stderr, err)
		}
	})

	step("edgecore restarted offline keeps its containers", func(t *testing.T) {
		e := x.l.Edges[web.Spec.NodeName]
		cri := x.cri(web.Spec.NodeName)
		before := x.runningIDs(cri, string(web.UID))
		if len(before) == 0 {
			t.Fatalf("no running containers of %s", web.Name)
		}
		restore, err := l.RestartOffline(ctx, site, e)
		if restore != nil {
			defer restore()
		}
		if err != nil {
			t.Fatal(err)
		}
		// Long enough for the restarted edged to list, relist and sync the pod: a recreated
		// container would show within its first sync.
		u := "http://" + net.JoinHostPort(web.Status.PodIP, "8080") + "/ready"
		for range 8 {
			time.Sleep(time.Second)
			if after := x.runningIDs(cri, string(web.UID)); !slices.Equal(before, after) {
				t.Fatalf("containers changed across the offline restart: %v, then %v", before, after)
			}
			if code := httpStatus(ctx, e.Host, u); code != http.StatusOK {
				t.Fatalf("pod answers %d after the offline restart", code)
			}
		}
		if err := restore(); err != nil {
			t.Fatal(err)
		}
		x.waitNode(e.Name, 60*time.Second)
		// The cloud may have marked the pod not ready while the node was away; Ready again,
		// then a readiness change made on the node, show that status flows once more.
		x.waitPod(web.Name, 60*time.Second, podReady)
		id := before[0]
		x.execSync(cri, id, "testapp", "touch", "/tmp/unready")
		x.waitPod(web.Name, 60*time.Second, func(p *corev1.Pod) bool { return !podReady(p) })
		x.execSync(cri, id, "testapp", "rm", "/tmp/unready")
		x.waitPod(web.Name, 60*time.Second, podReady)
	})

	step("bad specs say why", func(t *testing.T) {
		missing := testappContainer("app")
		missing.Image = "outpost.local/nope:v1"
		x.createPod("no-image", missing)
		x.createPod("no-configmap", testappContainer("app"), corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent-config"}},
		}})
		badProbe := testappContainer("app")
		badProbe.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("metrics")}}}
		x.createPod("bad-probe", badProbe)

		x.waitPod("no-image", 60*time.Second, func(p *corev1.Pod) bool {
			w := waitingOf(p)
			return w != nil && w.Reason == "ErrImageNeverPull"
		})
		x.waitPod("no-configmap", 60*time.Second, func(p *corev1.Pod) bool { return statusMentions(p, "absent-config") })
		x.waitPod("bad-probe", 60*time.Second, func(p *corev1.Pod) bool { return statusMentions(p, `"metrics"`) })
	})

	for _, e := range l.Edges {
		select {
		case <-e.Proc.Done():
			t.Errorf("%s exited: %v\n%s", e.Proc.Name, e.Proc.Err(), e.Proc.Tail(30))
		default:
		}
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// edgedTest holds the helpers of TestEdged; t is the current subtest.
type edgedTest struct {
	t   *testing.T
	ctx context.Context
	l   *edgelab.Lab
	c   kubernetes.Interface
}

// testappContainer is testapp serving HTTP on 8080 (named "http"), never pulled.
func testappContainer(name string) corev1.Container {
	return corev1.Container{
		Name: name, Image: testappImage, ImagePullPolicy: corev1.PullNever,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}
}

// edgePodSpec places containers on edge nodes: the edge role label, and the edge taint
// (NoSchedule, added by `outpost join`) tolerated.
func edgePodSpec(cs ...corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{
		Containers:                    cs,
		NodeSelector:                  map[string]string{edgeRoleLabel: ""},
		Tolerations:                   []corev1.Toleration{{Key: edgeRoleLabel, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		TerminationGracePeriodSeconds: ptr.To(int64(5)),
	}
}

func (x *edgedTest) createConfigMap(name, greeting string) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: edgedNS}, Data: map[string]string{"greeting": greeting, "GREETING": greeting}}
	if _, err := x.c.CoreV1().ConfigMaps(edgedNS).Create(x.ctx, cm, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
}

// createDeployment: one replica of testapp with the web-config ConfigMap as a volume and as
// env, a memory emptyDir, readiness and liveness probes.
func (x *edgedTest) createDeployment() {
	c := testappContainer("app")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/web"}, {Name: "scratch", MountPath: "/scratch"}}
	c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 2}
	spec := edgePodSpec(c)
	spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}},
	}}, {Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: edgedNS},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if _, err := x.c.AppsV1().Deployments(edgedNS).Create(x.ctx, d, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
}

func (x *edgedTest) createDaemonSet() {
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: edgedNS},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: edgePodSpec(testappContainer("agent"))},
		},
	}
	if _, err := x.c.AppsV1().DaemonSets(edgedNS).Create(x.ctx, ds, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
}

func (x *edgedTest) createPod(name string, c corev1.Container, vols ...corev1.Volume) {
	spec := edgePodSpec(c)
	spec.Volumes = vols
	for _, v := range vols {
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: "/mnt/" + v.Name})
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: edgedNS}, Spec: spec}
	if _, err := x.c.CoreV1().Pods(edgedNS).Create(x.ctx, p, metav1.CreateOptions{}); err != nil {
		x.t.Fatal(err)
	}
}

// poll calls f every 250 ms until it reports done or timeout passes; then it fails the test
// with what f last said.
func (x *edgedTest) poll(what string, timeout time.Duration, f func() (bool, string)) {
	x.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := f()
		if ok {
			return
		}
		if time.Now().After(deadline) || x.ctx.Err() != nil {
			x.t.Fatalf("%s: not within %v; last: %s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitPod waits until the pod meets cond and returns it; on timeout the pod's status is printed.
func (x *edgedTest) waitPod(name string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	x.t.Helper()
	var got *corev1.Pod
	x.poll("pod "+name, timeout, func() (bool, string) {
		p, err := x.c.CoreV1().Pods(edgedNS).Get(x.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got = p
		return cond(p), describe([]corev1.Pod{*p})
	})
	return got
}

// waitPodWhere waits until a pod matching selector meets cond and returns it.
func (x *edgedTest) waitPodWhere(selector string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	x.t.Helper()
	var got *corev1.Pod
	x.poll("a pod "+selector, timeout, func() (bool, string) {
		pods := x.pods(selector)
		for i := range pods {
			if cond(&pods[i]) {
				got = &pods[i]
				return true, ""
			}
		}
		return false, describe(pods)
	})
	return got
}

func (x *edgedTest) pods(selector string) []corev1.Pod {
	l, err := x.c.CoreV1().Pods(edgedNS).List(x.ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		x.t.Logf("list pods %s: %v", selector, err)
		return nil
	}
	return l.Items
}

// waitNode waits until the node is Ready and has a podCIDR (edged's CNI config needs it).
func (x *edgedTest) waitNode(name string, timeout time.Duration) {
	x.t.Helper()
	x.poll("node "+name+" Ready with a podCIDR", timeout, func() (bool, string) {
		n, err := x.c.CoreV1().Nodes().Get(x.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return readyOf(n).Status == corev1.ConditionTrue && n.Spec.PodCIDR != "", fmt.Sprintf("ready %v, podCIDR %q", readyOf(n), n.Spec.PodCIDR)
	})
}

func (x *edgedTest) node(name string) *corev1.Node {
	n, err := x.c.CoreV1().Nodes().Get(x.ctx, name, metav1.GetOptions{})
	if err != nil {
		x.t.Fatal(err)
	}
	return n
}

// hostOf is the lab host running the pod.
func (x *edgedTest) hostOf(p *corev1.Pod) *lab.Host {
	e, ok := x.l.Edges[p.Spec.NodeName]
	if !ok {
		x.t.Fatalf("pod %s on %q, not an edge of the lab", p.Name, p.Spec.NodeName)
	}
	return e.Host
}

// get is the body of GET u from inside host; "" (logged) on errors or a status other than 200.
func (x *edgedTest) get(host *lab.Host, u string) string {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: host.DialContext, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(x.ctx, http.MethodGet, u, nil)
	if err != nil {
		x.t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		x.t.Logf("GET %s: %v", u, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		x.t.Logf("GET %s: %s: %s", u, resp.Status, b)
		return ""
	}
	return string(b)
}

// exec runs argv in a container through edgecore's stream server with client-go's SPDY
// executor, dialled from inside host.
func (x *edgedTest) exec(host *lab.Host, pod, container string, argv ...string) (string, string, error) {
	q := url.Values{"command": argv, "output": {"1"}, "error": {"1"}}
	u := &url.URL{Scheme: "http", Host: edgelab.StreamAddr, Path: fmt.Sprintf("/exec/%s/%s/%s", edgedNS, pod, container), RawQuery: q.Encode()}
	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{UpgradeTransport: &http.Transport{DialContext: host.DialContext}})
	if err != nil {
		return "", "", err
	}
	ex, err := remotecommand.NewSPDYExecutorForTransports(rt, rt, http.MethodPost, u)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(x.ctx, 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// cri is the CRI runtime of the node's containerd.
func (x *edgedTest) cri(node string) runtimeapi.RuntimeServiceClient {
	e, ok := x.l.Edges[node]
	if !ok || e.Containerd == nil {
		x.t.Fatalf("no containerd for node %q", node)
	}
	return e.Containerd.Runtime
}

// runtimeObjects lists the containers and sandboxes of a pod UID in a containerd.
func (x *edgedTest) runtimeObjects(rt runtimeapi.RuntimeServiceClient, uid string) ([]*runtimeapi.Container, []*runtimeapi.PodSandbox) {
	x.t.Helper()
	sel := map[string]string{podUIDLabel: uid}
	cs, err := rt.ListContainers(x.ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		x.t.Fatal(err)
	}
	sbs, err := rt.ListPodSandbox(x.ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		x.t.Fatal(err)
	}
	return cs.Containers, sbs.Items
}

// runningIDs are the sorted IDs of the pod's running containers.
func (x *edgedTest) runningIDs(rt runtimeapi.RuntimeServiceClient, uid string) []string {
	cs, _ := x.runtimeObjects(rt, uid)
	var ids []string
	for _, c := range cs {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			ids = append(ids, c.Id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (x *edgedTest) execSync(rt runtimeapi.RuntimeServiceClient, id string, argv ...string) {
	x.t.Helper()
	resp, err := rt.ExecSync(x.ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: argv, Timeout: 10})
	if err != nil || resp.ExitCode != 0 {
		x.t.Fatalf("exec %v in %s: %v %+v", argv, id, err, resp)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitingOf is the first container's waiting state, or nil.
func waitingOf(p *corev1.Pod) *corev1.ContainerStateWaiting {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Waiting
}

// statusMentions tells whether the pod's message, a condition's message or a container's
// waiting message contains s.
func statusMentions(p *corev1.Pod, s string) bool {
	msgs := []string{p.Status.Message}
	for _, c := range p.Status.Conditions {
		msgs = append(msgs, c.Message)
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Waiting != nil {
			msgs = append(msgs, c.State.Waiting.Message)
		}
	}
	return slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, s) })
}

// describe is the pods' status as JSON, for failure messages.
func describe(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		j, _ := json.Marshal(p.Status)
		fmt.Fprintf(&b, "\n%s on %q: %s", p.Name, p.Spec.NodeName, j)
	}
	return b.String()
}
