//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/cloudcore/certs"
	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/edgelab"
	"github.com/outpostmesh/outpost/test/lab"
)

// ns is the namespace the cloud-edge test writes its objects in.
const ns = "shop"

// genAnnotation is bumped by every write of the test, so an object's fingerprint (uid and
// generation of the test) tells whether the edge holds the latest write.
const genAnnotation = "e2e.outpost.dev/gen"

// TestCloudEdge: nodes join with a token and turn Ready through the hub; each node holds exactly
// its share; the share converges after an uplink cut, a cloudcore restart and an edgecore
// restart offline; a cut node turns Unknown and Ready again without losing pods; bad input at
// the hub and the join endpoint is refused while the node keeps working.
func TestCloudEdge(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := lab.ForTest(t)
	bin := filepath.Join(run.Dir, "bin")
	if err := edgelab.Build(bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v", time.Since(start).Round(time.Millisecond))
	l, err := edgelab.Start(ctx, run, edgelab.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab up in %v", time.Since(start).Round(time.Millisecond))
	c := &cloudEdge{t: t, ctx: ctx, l: l, client: l.Client}
	site := l.Net.Sites["a"]
	a1, a2 := site.Hosts[0], site.Hosts[1]
	step := func(name string, f func(t *testing.T)) {
		t0 := time.Now()
		if !t.Run(name, f) {
			t.FailNow() // later steps build on earlier ones
		}
		t.Logf("%s: %v", name, time.Since(t0).Round(time.Millisecond))
	}

	var e1, e2 *edgelab.Edge
	var token1 string
	step("join", func(t *testing.T) {
		var err error
		if token1, err = l.CreateToken(ctx); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(run.Dir, "edges", "a1")
		if out, err := l.JoinCmd(a1, token1, "a1", dir); err != nil {
			t.Fatalf("join a1: %v\n%s", err, out)
		}
		if e1, err = l.AdoptEdge(a1, dir); err != nil {
			t.Fatal(err)
		}
		if e2, err = l.Join(ctx, a2); err != nil {
			t.Fatal(err)
		}
		for _, e := range []*edgelab.Edge{e1, e2} {
			if err := l.StartEdge(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"a1", "a2"} {
			n := c.waitReady(name, corev1.ConditionTrue, 30*time.Second)
			if r := readyOf(n).Reason; r != "EdgeCoreReady" {
				t.Errorf("node %s Ready reason %q, want edgecore's", name, r)
			}
			if _, ok := n.Labels["node-role.kubernetes.io/edge"]; !ok {
				t.Errorf("node %s without the edge label: %v", name, n.Labels)
			}
			if !slices.ContainsFunc(n.Spec.Taints, func(tt corev1.Taint) bool {
				return tt.Key == "node-role.kubernetes.io/edge" && tt.Effect == corev1.TaintEffectNoSchedule
			}) {
				t.Errorf("node %s without the edge taint: %v", name, n.Spec.Taints)
			}
			if p := n.Status.DaemonEndpoints.KubeletEndpoint.Port; p != 10250 || len(n.Status.Addresses) == 0 || n.Status.Capacity.Cpu().IsZero() {
				t.Errorf("node %s status: port %d, addresses %v, capacity %v", name, p, n.Status.Addresses, n.Status.Capacity)
			}
		}
		if _, err := c.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, "a1", metav1.GetOptions{}); err != nil {
			t.Errorf("lease of a1: %v", err)
		}
	})

	step("right objects to the right node", func(t *testing.T) {
		c.t = t
		c.setup()
		ms1, ms2 := c.metaserver(e1), c.metaserver(e2)
		c.waitConverged(e1, ms1, 30*time.Second)
		c.waitConverged(e2, ms2, 30*time.Second)
		for _, name := range []string{"sec-a1", "cm-a1"} {
			if err := getAny(ctx, ms1, name); err != nil {
				t.Errorf("a1 lacks %s: %v", name, err)
			}
		}
		if _, err := ms1.CoreV1().Pods(ns).Get(ctx, "a1-p1", metav1.GetOptions{}); err != nil {
			t.Errorf("a1 lacks its pod: %v", err)
		}
		if _, err := ms1.CoreV1().Secrets(ns).Get(ctx, "sec-a2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a1 got a2's secret (or error): %v", err)
		}
		if _, err := ms1.CoreV1().Pods(ns).Get(ctx, "a2-p1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a1 got a2's pod (or error): %v", err)
		}
		// The kubeconfig edgecore writes for local clients reaches the same metaserver.
		rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(e1.Dir, "data", "metaserver.kubeconfig"))
		if err != nil {
			t.Fatal(err)
		}
		rc.Dial = a1.DialContext
		local, err := kubernetes.NewForConfig(rc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := local.CoreV1().Pods(ns).Get(ctx, "a1-p1", metav1.GetOptions{}); err != nil {
			t.Errorf("through metaserver.kubeconfig: %v", err)
		}
		secs, err := ms1.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secs.Items {
			if s.Name == "sec-a2" {
				t.Errorf("a1 lists a2's secret")
			}
		}
	})

	step("uplink cut converges", func(t *testing.T) {
		c.t = t
		ms1 := c.metaserver(e1)
		before := c.held(ms1)
		if err := site.CutUplink(); err != nil {
			t.Fatal(err)
		}
		c.updateConfigMap("cm-a1")
		c.createPod("a1-p2", "a1", "cm-a1b", "sec-a1b")
		c.deletePod("a1-tmp") // and with it sec-tmp leaves a1's share
		c.createService("svc-cut")
		// Longer than the hub's pong timeout: the session dies and the next one resumes from
		// a1's inventory. Meanwhile a1 keeps serving what it had.
		time.Sleep(edgelab.FastTimings().HubPongTimeout + time.Second)
		if during := c.held(ms1); !maps.Equal(before, during) {
			t.Errorf("a1 changed while cut off:\n%v\nbefore\n%v", keys(during), keys(before))
		}
		if err := site.RestoreUplink(); err != nil {
			t.Fatal(err)
		}
		c.waitConverged(e1, ms1, 30*time.Second)
		if _, err := ms1.CoreV1().Secrets(ns).Get(ctx, "sec-tmp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("sec-tmp still on a1: %v", err)
		}
	})

	step("cloudcore restart mid-stream", func(t *testing.T) {
		c.t = t
		ms1 := c.metaserver(e1)
		var wg sync.WaitGroup
		var changes atomic.Int32
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 16 {
				c.updateConfigMap("cm-a1")
				c.createPod(fmt.Sprintf("a1-r%d", i), "a1", "cm-a1", "sec-a1")
				if i >= 3 {
					c.deletePod(fmt.Sprintf("a1-r%d", i-3))
				}
				changes.Add(1)
				time.Sleep(150 * time.Millisecond)
			}
		}()
		for changes.Load() < 4 {
			time.Sleep(20 * time.Millisecond)
		}
		l.StopCloudCore()
		t.Logf("cloudcore stopped after %d rounds of changes", changes.Load())
		time.Sleep(time.Second)
		if err := l.StartCloudCore(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		c.waitConverged(e1, ms1, 30*time.Second)
		c.waitConverged(e2, c.metaserver(e2), 30*time.Second)
	})

	step("edgecore restart offline", func(t *testing.T) {
		c.t = t
		before := c.held(c.metaserver(e1))
		restore, err := l.RestartOffline(ctx, site, e1)
		if restore != nil {
			defer restore()
		}
		if err != nil {
			t.Fatal(err)
		}
		ms1 := c.metaserver(e1)
		if code := httpStatus(ctx, a1, "http://"+edgelab.EdgeHealthAddr+"/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("restarted a1 offline: /readyz %d, want 503 (no hub)", code)
		}
		if after := c.held(ms1); !maps.Equal(before, after) {
			t.Fatalf("after restart offline a1 serves\n%v\nbefore\n%v", keys(after), keys(before))
		}
		// An informer against the restarted metaserver sees what the cloud does once back.
		ictx, icancel := context.WithCancel(ctx)
		f := informers.NewSharedInformerFactoryWithOptions(ms1, 0, informers.WithNamespace(ns))
		cms, pods := f.Core().V1().ConfigMaps().Informer(), f.Core().V1().Pods().Informer()
		f.Start(ictx.Done())
		defer func() { icancel(); f.Shutdown() }() // Shutdown waits for the informers to stop
		if !cache.WaitForCacheSync(ictx.Done(), cms.HasSynced, pods.HasSynced) {
			t.Fatal("informer on a1's metaserver did not sync")
		}
		if err := restore(); err != nil {
			t.Fatal(err)
		}
		c.updateConfigMap("cm-a1")
		c.createPod("a1-x", "a1", "cm-a1x", "sec-a1")
		c.deletePod("a1-p2")
		deadline := time.Now().Add(30 * time.Second)
		for {
			want := c.desired("a1")
			got := map[string]string{}
			for _, o := range cms.GetStore().List() {
				m := o.(*corev1.ConfigMap)
				got[key("configmaps", m.ObjectMeta)] = fingerprint(m.ObjectMeta)
			}
			for _, o := range pods.GetStore().List() {
				m := o.(*corev1.Pod)
				got[key("pods", m.ObjectMeta)] = fingerprint(m.ObjectMeta)
			}
			if maps.Equal(got, only(want, "configmaps", "pods")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("informer on a1 has\n%v\nwant\n%v", got, only(want, "configmaps", "pods"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		c.waitConverged(e1, ms1, 10*time.Second)
	})

	step("node unknown when cut and ready again", func(t *testing.T) {
		c.t = t
		podsBefore := c.podsOn("a1")
		if err := site.CutUplink(); err != nil {
			t.Fatal(err)
		}
		n := c.waitReady("a1", corev1.ConditionUnknown, 30*time.Second)
		t.Logf("a1 Ready=%s: %s", corev1.ConditionUnknown, readyOf(n).Message)
		if got := c.podsOn("a1"); got != podsBefore {
			t.Errorf("pods on a1: %d while cut, %d before", got, podsBefore)
		}
		if err := site.RestoreUplink(); err != nil {
			t.Fatal(err)
		}
		c.waitReady("a1", corev1.ConditionTrue, 30*time.Second)
		if got := c.podsOn("a1"); got != podsBefore {
			t.Errorf("pods on a1: %d after, %d before", got, podsBefore)
		}
	})

	step("bad input refused", func(t *testing.T) {
		c.t = t
		// A valid identity of a node that runs no edgecore: a raw session as a2 would race with
		// a2's edgecore, whose reconnect replaces it (one session per node) before the frame.
		ca, err := certs.LoadOrCreateCA(ctx, c.client)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := ca.Issue(pki.NodeSpec("ghost"))
		if err != nil {
			t.Fatal(err)
		}
		roots := ca.Pool()
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{kp.TLSCertificate()}, RootCAs: roots}
		url := fmt.Sprintf("wss://%s:%d/hub", l.Cloud.IP, edgelab.HubPort)
		var huge [4]byte
		binary.BigEndian.PutUint32(huge[:], 0xFFFFFFFF)
		for _, tc := range []struct {
			name  string
			frame []byte
		}{
			{"garbage", append(binary.BigEndian.AppendUint32(nil, 12), []byte("not a frame!")...)},
			{"oversized", huge[:]},
			{"hello for another node", helloFrame(t, "a1")},
		} {
			if msg := rawHub(ctx, t, a2, url, tlsCfg, tc.frame); !strings.HasPrefix(msg, "refused") {
				t.Errorf("%s: %s", tc.name, msg)
			} else {
				t.Logf("%s: %s", tc.name, msg)
			}
		}
		out, err := l.JoinCmd(a2, token1, "a3", filepath.Join(run.Dir, "edges", "a3"))
		if err == nil || !strings.Contains(out, "already used") {
			t.Errorf("replayed token: err %v, output %s", err, out)
		}
		if _, err := c.client.CoreV1().Nodes().Get(ctx, "a3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("node a3 registered with a replayed token: %v", err)
		}
		metrics := c.cloudMetrics()
		for _, reason := range []string{"malformed_frame", "frame_too_large", "node_mismatch"} {
			if !strings.Contains(metrics, `outpost_hub_refusals_total{reason="`+reason+`"} 1`) {
				t.Errorf("no refusal %s counted", reason)
			}
		}
		// a1 keeps working: still Ready, still receiving.
		c.updateConfigMap("cm-a1")
		c.waitConverged(e1, c.metaserver(e1), 15*time.Second)
		if r := readyOf(c.node("a1")); r.Status != corev1.ConditionTrue {
			t.Errorf("a1 Ready=%s", r.Status)
		}
	})
	for _, p := range []*lab.Process{l.CloudCore, e1.Proc, e2.Proc} {
		select {
		case <-p.Done():
			t.Errorf("%s exited: %v", p.Name, p.Err())
		default:
		}
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// httpStatus is the status code of GET url from inside host (0 if no answer).
func httpStatus(ctx context.Context, host *lab.Host, url string) int {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: host.DialContext}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// cloudEdge holds the helpers of TestCloudEdge; t is the current subtest.
type cloudEdge struct {
	t      *testing.T
	ctx    context.Context
	l      *edgelab.Lab
	client kubernetes.Interface
	gen    atomic.Int64
}

func (c *cloudEdge) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{genAnnotation: strconv.FormatInt(c.gen.Add(1), 10)}}
}

// setup creates the namespace, its default ServiceAccount (no controller-manager runs), a pod
// per node with a Secret and ConfigMap volume each, and a pod on a1 to delete later.
func (c *cloudEdge) setup() {
	cc := c.client.CoreV1()
	if _, err := cc.Namespaces().Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	if _, err := cc.ServiceAccounts(ns).Create(c.ctx, &corev1.ServiceAccount{ObjectMeta: c.meta("default")}, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.createPod("a1-p1", "a1", "cm-a1", "sec-a1")
	c.createPod("a2-p1", "a2", "cm-a2", "sec-a2")
	c.createPod("a1-tmp", "a1", "cm-a1", "sec-tmp")
	c.createService("web")
}

// createPod creates the ConfigMap and Secret (if missing) and a pod bound to node mounting both.
func (c *cloudEdge) createPod(name, node, cm, secret string) {
	cc := c.client.CoreV1()
	if _, err := cc.ConfigMaps(ns).Create(c.ctx, &corev1.ConfigMap{ObjectMeta: c.meta(cm), Data: map[string]string{"k": cm}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.t.Error(err)
	}
	if _, err := cc.Secrets(ns).Create(c.ctx, &corev1.Secret{ObjectMeta: c.meta(secret), StringData: map[string]string{"k": secret}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.t.Error(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: c.meta(name),
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}},
			},
		},
	}
	if _, err := cc.Pods(ns).Create(c.ctx, pod, metav1.CreateOptions{}); err != nil {
		c.t.Error(err)
	}
}

func (c *cloudEdge) deletePod(name string) {
	if err := c.client.CoreV1().Pods(ns).Delete(c.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}); err != nil {
		c.t.Error(err)
	}
}

func (c *cloudEdge) createService(name string) {
	svc := &corev1.Service{ObjectMeta: c.meta(name), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := c.client.CoreV1().Services(ns).Create(c.ctx, svc, metav1.CreateOptions{}); err != nil {
		c.t.Error(err)
	}
}

func (c *cloudEdge) updateConfigMap(name string) {
	cms := c.client.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Error(err)
		return
	}
	g := strconv.FormatInt(c.gen.Add(1), 10)
	cm.Annotations[genAnnotation] = g
	cm.Data["k"] = name + "-" + g
	if _, err := cms.Update(c.ctx, cm, metav1.UpdateOptions{}); err != nil {
		c.t.Error(err)
	}
}

func (c *cloudEdge) metaserver(e *edgelab.Edge) kubernetes.Interface {
	ms, err := e.MetaServer()
	if err != nil {
		c.t.Fatal(err)
	}
	return ms
}

// desired is node's share of the test namespace, as the cloud has it: its pods, the
// ConfigMaps, Secrets and ServiceAccounts they reference, and every Service.
func (c *cloudEdge) desired(node string) map[string]string {
	cc := c.client.CoreV1()
	out := map[string]string{}
	pods, err := cc.Pods(ns).List(c.ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		c.t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, p := range pods.Items {
		out[key("pods", p.ObjectMeta)] = fingerprint(p.ObjectMeta)
		for _, v := range p.Spec.Volumes {
			if v.ConfigMap != nil {
				refs["configmaps/"+v.ConfigMap.Name] = true
			}
			if v.Secret != nil {
				refs["secrets/"+v.Secret.SecretName] = true
			}
		}
		refs["serviceaccounts/"+p.Spec.ServiceAccountName] = true
	}
	cms, err := cc.ConfigMaps(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range cms.Items {
		if refs["configmaps/"+o.Name] {
			out[key("configmaps", o.ObjectMeta)] = fingerprint(o.ObjectMeta)
		}
	}
	secs, err := cc.Secrets(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range secs.Items {
		if refs["secrets/"+o.Name] {
			out[key("secrets", o.ObjectMeta)] = fingerprint(o.ObjectMeta)
		}
	}
	sas, err := cc.ServiceAccounts(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range sas.Items {
		if refs["serviceaccounts/"+o.Name] {
			out[key("serviceaccounts", o.ObjectMeta)] = fingerprint(o.ObjectMeta)
		}
	}
	svcs, err := cc.Services(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, o := range svcs.Items {
		out[key("services", o.ObjectMeta)] = fingerprint(o.ObjectMeta)
	}
	return out
}

// held is what a metaserver lists of the same resources in the test namespace (nil on error).
func (c *cloudEdge) held(ms kubernetes.Interface) map[string]string {
	cc := ms.CoreV1()
	out := map[string]string{}
	add := func(res string, items []metav1.ObjectMeta) {
		for _, m := range items {
			out[key(res, m)] = fingerprint(m)
		}
	}
	pods, err := cc.Pods(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	add("pods", metas(pods.Items, func(o corev1.Pod) metav1.ObjectMeta { return o.ObjectMeta }))
	cms, err := cc.ConfigMaps(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	add("configmaps", metas(cms.Items, func(o corev1.ConfigMap) metav1.ObjectMeta { return o.ObjectMeta }))
	secs, err := cc.Secrets(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	add("secrets", metas(secs.Items, func(o corev1.Secret) metav1.ObjectMeta { return o.ObjectMeta }))
	sas, err := cc.ServiceAccounts(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	add("serviceaccounts", metas(sas.Items, func(o corev1.ServiceAccount) metav1.ObjectMeta { return o.ObjectMeta }))
	svcs, err := cc.Services(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	add("services", metas(svcs.Items, func(o corev1.Service) metav1.ObjectMeta { return o.ObjectMeta }))
	return out
}

// waitConverged waits until e's metaserver lists exactly e's desired share.
func (c *cloudEdge) waitConverged(e *edgelab.Edge, ms kubernetes.Interface, timeout time.Duration) {
	c.t.Helper()
	t0 := time.Now()
	var want, got map[string]string
	for time.Since(t0) < timeout {
		want, got = c.desired(e.Name), c.held(ms)
		if maps.Equal(want, got) {
			c.t.Logf("%s converged to %d objects in %v", e.Name, len(want), time.Since(t0).Round(time.Millisecond))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("%s did not converge in %v:\n missing or stale: %v\n extra or stale: %v", e.Name, timeout, diff(want, got), diff(got, want))
}

func (c *cloudEdge) node(name string) *corev1.Node {
	n, err := c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// waitReady waits until node's Ready condition has status want.
func (c *cloudEdge) waitReady(name string, want corev1.ConditionStatus, timeout time.Duration) *corev1.Node {
	c.t.Helper()
	t0 := time.Now()
	for {
		n, err := c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
		if err == nil && readyOf(n).Status == want {
			c.t.Logf("node %s Ready=%s after %v", name, want, time.Since(t0).Round(time.Millisecond))
			return n
		}
		if time.Since(t0) > timeout {
			c.t.Fatalf("node %s not Ready=%s in %v (err %v, node %+v)", name, want, timeout, err, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *cloudEdge) podsOn(node string) int {
	pods, err := c.client.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		c.t.Fatal(err)
	}
	return len(pods.Items)
}

// cloudMetrics fetches cloudcore's /metrics from inside the cloud host.
func (c *cloudEdge) cloudMetrics() string {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: c.l.Cloud.DialContext}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(fmt.Sprintf("http://%s:%d/metrics", c.l.Cloud.IP, edgelab.CloudHealth))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// rawHub opens a hub session from host with cfg's certificate, writes frame on the control
// stream and reports how the hub answered: "refused: <error frame>" or what happened instead.
func rawHub(ctx context.Context, t *testing.T, host *lab.Host, url string, cfg *tls.Config, frame []byte) string {
	t.Helper()
	d := websocket.Dialer{NetDialContext: host.DialContext, TLSClientConfig: cfg, Subprotocols: []string{hubproto.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return "dial: " + err.Error()
	}
	ycfg := yamux.DefaultConfig()
	ycfg.EnableKeepAlive = false
	ycfg.LogOutput = io.Discard
	mux, err := yamux.Client(wsconn.New(ws), ycfg)
	if err != nil {
		ws.Close()
		return "yamux: " + err.Error()
	}
	defer mux.Close()
	ctrl, err := mux.OpenStream()
	if err != nil {
		return "open: " + err.Error()
	}
	if _, err := ctrl.Write(frame); err != nil {
		// The hub may read the frame, refuse it and close the session before yamux reports
		// the write done; the caller checks the refusal's reason in the hub's metrics.
		if errors.Is(err, yamux.ErrSessionShutdown) {
			return "refused: closed while the frame was written"
		}
		return "write: " + err.Error()
	}
	_ = ctrl.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := hubproto.ReadFrame(ctrl, 0)
	if err != nil {
		return "no answer: " + err.Error()
	}
	if f.Type != hubproto.TypeError {
		return "accepted: got a " + string(f.Type) + " frame"
	}
	select {
	case <-mux.CloseChan():
	case <-time.After(5 * time.Second):
		return "refused but not closed: " + f.Error
	}
	return "refused: " + f.Error
}

func helloFrame(t *testing.T, node string) []byte {
	var b bytes.Buffer
	if err := hubproto.WriteFrame(&b, &hubproto.Frame{Type: hubproto.TypeHello, Hello: &hubproto.Hello{Node: node}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func getAny(ctx context.Context, ms kubernetes.Interface, name string) error {
	if strings.HasPrefix(name, "sec-") {
		_, err := ms.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	}
	_, err := ms.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	return err
}

func key(resource string, m metav1.ObjectMeta) string {
	return resource + "/" + m.Namespace + "/" + m.Name
}

// fingerprint identifies an object's version across cloud and edge: its uid and the test's
// generation annotation (the edge's resourceVersion is its own store's revision).
func fingerprint(m metav1.ObjectMeta) string {
	return string(m.UID) + "@" + m.Annotations[genAnnotation]
}

func metas[T any](items []T, f func(T) metav1.ObjectMeta) []metav1.ObjectMeta {
	out := make([]metav1.ObjectMeta, len(items))
	for i, o := range items {
		out[i] = f(o)
	}
	return out
}

func only(m map[string]string, resources ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		for _, r := range resources {
			if strings.HasPrefix(k, r+"/") {
				out[k] = v
			}
		}
	}
	return out
}

func diff(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func readyOf(n *corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}
