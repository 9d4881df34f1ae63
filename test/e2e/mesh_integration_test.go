//go:build integration

package e2e

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/test/lab"
	"github.com/outpostmesh/outpost/test/meshlab"
)

// TestMesh: services called by name across sites and within one, every load-balancing policy,
// session affinity, dead endpoints, bad input, then the cloud and the relay gone, an agent
// restarted without them, and a shutdown that leaves nothing behind.
func TestMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	run := lab.ForTest(t)
	bin := filepath.Join(run.Dir, "bin")
	if err := meshlab.Build(bin); err != nil {
		t.Fatal(err)
	}
	m, err := meshlab.Start(ctx, run, meshlab.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a2", "b1", "b2"} {
		if _, err := m.StartPod(h, "pod-"+h); err != nil {
			t.Fatal(err)
		}
	}
	svc := func(name string, proto corev1.Protocol, eps []string, mod func(*meshlab.Service)) string {
		s := meshlab.Service{Namespace: "shop", Name: name, Protocol: proto, Port: 80, PodPort: 8080, Endpoints: eps}
		if proto == corev1.ProtocolUDP {
			s.Port, s.PodPort = 53, 9053
		}
		if mod != nil {
			mod(&s)
		}
		ip, err := m.AddService(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return ip
	}
	remote := []string{"b1", "b2"}
	policy := func(p view.LBPolicy) func(*meshlab.Service) {
		return func(s *meshlab.Service) { s.Annotations = map[string]string{view.LBPolicyAnnotation: string(p)} }
	}
	svc("web", corev1.ProtocolTCP, remote, nil)
	svc("echo", corev1.ProtocolUDP, remote, nil)
	svc("web-random", corev1.ProtocolTCP, remote, policy(view.Random))
	svc("web-hash", corev1.ProtocolTCP, remote, policy(view.ConsistentHash))
	svc("web-sticky", corev1.ProtocolTCP, remote, func(s *meshlab.Service) { s.SessionAffinity = corev1.ServiceAffinityClientIP })
	svc("local", corev1.ProtocolTCP, []string{"a2"}, nil)
	svc("local-udp", corev1.ProtocolUDP, []string{"a2"}, nil)
	svc("empty", corev1.ProtocolTCP, nil, nil)
	// One endpoint refuses: a1 runs no pod. The proxy (not the kernel's fast path) carries it,
	// so that retries and ejection apply.
	svc("flaky", corev1.ProtocolTCP, []string{"a1", "b1"}, func(s *meshlab.Service) {
		s.Annotations = map[string]string{view.FastPathAnnotation: "false"}
	})
	// One endpoint is on a node nobody knows: there is no peer to tunnel to.
	svc("ghosty", corev1.ProtocolTCP, []string{"b1"}, nil)
	if _, err := m.Client.DiscoveryV1().EndpointSlices("shop").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "ghosty-ghost", Labels: map[string]string{discoveryv1.LabelServiceName: "ghosty"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("p"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(int32(8080))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.7.7.7"}, NodeName: ptr.To("ghost"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a1", "a2", "b1", "b2"} {
		if err := m.StartAgent(ctx, h, true); err != nil {
			t.Fatal(err)
		}
	}
	a1 := m.Net.Host("a1")
	resolve := func(t *testing.T, name string) string {
		t.Helper()
		ip, _, err := meshlab.Lookup(ctx, a1, name+".shop.svc.cluster.local")
		if err != nil {
			t.Fatalf("resolve %s: %v", name, err)
		}
		return ip.String()
	}
	// calls makes n TCP calls to name:80 and counts answers by pod.
	calls := func(t *testing.T, name string, n int) map[string]int {
		t.Helper()
		addr := net.JoinHostPort(resolve(t, name), "80")
		got := map[string]int{}
		for i := 0; i < n; i++ {
			body, err := meshlab.HTTPGet(ctx, a1, addr)
			if err != nil {
				t.Fatalf("call %d to %s: %v\n%s", i, name, err, m.Agents["a1"].Tail(10))
			}
			f := strings.Fields(body) // "hello from POD (you are ...)"
			if len(f) < 3 {
				t.Fatalf("answer %q", body)
			}
			got[f[2]]++
		}
		return got
	}

	t.Run("cross-site TCP by name, round robin", func(t *testing.T) {
		got := calls(t, "web", 20)
		if got["pod-b1"] != 10 || got["pod-b2"] != 10 {
			t.Fatalf("round robin over b1, b2: %v", got)
		}
	})
	t.Run("cross-site UDP by name", func(t *testing.T) {
		addr := net.JoinHostPort(resolve(t, "echo"), "53")
		seen := map[string]bool{}
		for i := 0; i < 6; i++ {
			reply, err := meshlab.UDPCall(ctx, a1, addr, "ping")
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.SplitN(reply, ":", 2)[0]] = true
		}
		if !seen["pod-b1"] || !seen["pod-b2"] {
			t.Fatalf("UDP answers came from %v", seen)
		}
	})
	t.Run("random spreads", func(t *testing.T) {
		got := calls(t, "web-random", 40)
		if got["pod-b1"] < 5 || got["pod-b2"] < 5 {
			t.Fatalf("random over 40 calls: %v", got)
		}
	})
	t.Run("consistent hash keeps a client on one endpoint", func(t *testing.T) {
		if got := calls(t, "web-hash", 20); len(got) != 1 {
			t.Fatalf("consistent hash from one client: %v", got)
		}
	})
	t.Run("session affinity sticks", func(t *testing.T) {
		if got := calls(t, "web-sticky", 20); len(got) != 1 {
			t.Fatalf("ClientIP affinity: %v", got)
		}
	})
	t.Run("same-site endpoint is reached on the LAN through the kernel fast path", func(t *testing.T) {
		if got := calls(t, "local", 4); got["pod-a2"] != 4 {
			t.Fatalf("local service: %v", got)
		}
		out, err := exec.Command("ip", "netns", "exec", a1.NS, "iptables-save", "-t", "nat").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		if want := "--to-destination " + m.Net.Host("a2").IP.String() + ":8080"; !strings.Contains(string(out), want) {
			t.Fatalf("no fast-path DNAT (%s) in a1's rules:\n%s", want, out)
		}
	})
	t.Run("a dead endpoint is skipped within the connect timeout", func(t *testing.T) {
		start := time.Now()
		got := calls(t, "flaky", 10)
		if got["pod-b1"] != 10 {
			t.Fatalf("flaky service: %v", got)
		}
		t.Logf("10 calls with a refusing endpoint took %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("an endpoint on an unknown node is skipped", func(t *testing.T) {
		if got := calls(t, "ghosty", 6); got["pod-b1"] != 6 {
			t.Fatalf("service with an endpoint on an unknown node: %v", got)
		}
	})
	t.Run("a service without endpoints closes calls at once", func(t *testing.T) {
		if err := m.SetEndpoints(ctx, meshlab.Service{Namespace: "shop", Name: "empty", Protocol: corev1.ProtocolTCP, PodPort: 8080}); err != nil {
			t.Fatal(err)
		}
		addr := net.JoinHostPort(resolve(t, "empty"), "80")
		start := time.Now()
		if _, err := meshlab.HTTPGet(ctx, a1, addr); err == nil {
			t.Fatal("a service without endpoints answered")
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("a call to a service without endpoints hung for %v", el)
		}
	})
	t.Run("malformed DNS packets change nothing", func(t *testing.T) {
		c, err := a1.DialContext(ctx, "udp", net.JoinHostPort(meshlab.DNSIP, "53"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][]byte{{}, {1}, []byte("garbage garbage garbage"), make([]byte, 600)} {
			_, _ = c.Write(p)
		}
		c.Close()
		resolve(t, "web")
	})

	t.Run("cloud and relay gone: DNS and same-site calls keep working", func(t *testing.T) {
		m.CP.StopAPIServer()
		m.Relay.Stop(5 * time.Second)
		resolve(t, "web")
		if got := calls(t, "local", 3); got["pod-a2"] != 3 {
			t.Fatalf("local service offline: %v", got)
		}
		addr := net.JoinHostPort(resolve(t, "local-udp"), "53")
		if _, err := meshlab.UDPCall(ctx, a1, addr, "ping"); err != nil {
			t.Fatalf("local UDP offline: %v", err)
		}
	})
	t.Run("agent restarted offline resolves and routes from disk", func(t *testing.T) {
		m.StopAgent("a1")
		if err := m.StartAgent(ctx, "a1", false); err != nil {
			t.Fatal(err)
		}
		st, err := m.Status("a1")
		if err != nil || st.APISynced {
			t.Fatalf("restarted agent: %+v, %v (the API is down: it must not be synced)", st, err)
		}
		resolve(t, "web")
		if got := calls(t, "local", 3); got["pod-a2"] != 3 {
			t.Fatalf("local service after offline restart: %v", got)
		}
	})
	t.Run("shutdown leaves no rule and no address", func(t *testing.T) {
		m.StopAgent("a1")
		out, err := exec.Command("ip", "netns", "exec", a1.NS, "iptables-save").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "OUTPOST") {
			t.Fatalf("rules left after shutdown:\n%s", out)
		}
		out, err = exec.Command("ip", "-n", a1.NS, "addr").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), meshlab.DNSIP) {
			t.Fatalf("node-local address left after shutdown:\n%s", out)
		}
	})
}

// TestMeshFromPod: traffic of a pod on a node (its own network namespace behind a veth, as CNI
// makes it) reaches services through the node's agent: PREROUTING, not OUTPUT.
func TestMeshFromPod(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := lab.ForTest(t)
	bin := filepath.Join(run.Dir, "bin")
	if err := meshlab.Build(bin); err != nil {
		t.Fatal(err)
	}
	m, err := meshlab.Start(ctx, run, meshlab.Options{Bin: bin})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a2", "b1"} {
		if _, err := m.StartPod(h, "pod-"+h); err != nil {
			t.Fatal(err)
		}
	}
	local, err := m.AddService(ctx, meshlab.Service{Namespace: "shop", Name: "local", Protocol: corev1.ProtocolTCP, Port: 80, PodPort: 8080, Endpoints: []string{"a2"}})
	if err != nil {
		t.Fatal(err)
	}
	web, err := m.AddService(ctx, meshlab.Service{Namespace: "shop", Name: "web", Protocol: corev1.ProtocolTCP, Port: 80, PodPort: 8080, Endpoints: []string{"b1"}})
	if err != nil {
		t.Fatal(err)
	}
	echo, err := m.AddService(ctx, meshlab.Service{Namespace: "shop", Name: "echo", Protocol: corev1.ProtocolUDP, Port: 53, PodPort: 9053, Endpoints: []string{"b1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"a1", "b1"} {
		if err := m.StartAgent(ctx, h, true); err != nil {
			t.Fatal(err)
		}
	}
	pod, err := run.AddPod(m.Net.Host("a1"), "a1pod", net.ParseIP("10.244.1.10"), net.ParseIP("10.244.1.1"))
	if err != nil {
		t.Fatal(err)
	}
	ip, _, err := meshlab.Lookup(ctx, pod, "web.shop.svc.cluster.local")
	if err != nil || ip.String() != web {
		t.Fatalf("DNS from a pod on a1 through the node-local address: %v, %v (want %s)", ip, err, web)
	}
	body, err := meshlab.HTTPGet(ctx, pod, net.JoinHostPort(web, "80"))
	if err != nil || !strings.Contains(body, "pod-b1") {
		t.Fatalf("TCP from a pod on a1: %q, %v", body, err)
	}
	reply, err := meshlab.UDPCall(ctx, pod, net.JoinHostPort(echo, "53"), "ping")
	if err != nil || !strings.HasPrefix(reply, "pod-b1") {
		t.Fatalf("UDP from a pod on a1: %q, %v", reply, err)
	}
	// Same site: the kernel fast path DNATs to a2 and masquerades, so a2 answers through a1.
	body, err = meshlab.HTTPGet(ctx, pod, net.JoinHostPort(local, "80"))
	if err != nil || !strings.Contains(body, "pod-a2") || !strings.Contains(body, m.Net.Host("a1").IP.String()) {
		t.Fatalf("same-site call from a pod on a1: %q, %v (want pod-a2 seeing a1's address)", body, err)
	}
}
