package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/outpostmesh/outpost/edgemesh"
	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
)

// demo is the running demo.
type demo struct {
	run    *lab.Run
	net    *lab.Network
	cp     *lab.ControlPlane
	client kubernetes.Interface
	agents map[string]*lab.Process
}

const (
	ns         = "shop"
	relayPort  = 3479
	healthAddr = "127.0.0.1:10550"
	dnsIP      = "169.254.96.16"
)

// sitesAndPods: which hosts run an agent, and which run a stand-in pod of the web/echo services.
var (
	agentHosts = []string{"a1", "a2", "b1", "b2"}
	podHosts   = []string{"b1", "b2"}
)

func setUp(ctx context.Context, r *lab.Run, bin string) (*demo, error) {
	step("creating the network: public cloud + relay hosts, site a (easy NAT), site b (hard NAT)")
	nw, err := r.NewNetwork(lab.Topology{
		Public: []string{"cloud", "relay"},
		Sites: []lab.SiteSpec{
			{Name: "a", NAT: lab.EasyNAT, Hosts: 2},
			{Name: "b", NAT: lab.HardNAT, Hosts: 2},
		},
	})
	if err != nil {
		return nil, err
	}
	step("starting etcd and kube-apiserver v1.36.3 on the cloud host")
	cp, err := r.StartControlPlane(ctx, lab.ControlPlaneOptions{Host: nw.Public["cloud"]})
	if err != nil {
		return nil, err
	}
	client, err := cp.Client()
	if err != nil {
		return nil, err
	}
	d := &demo{run: r, net: nw, cp: cp, client: client, agents: map[string]*lab.Process{}}
	if err := d.apiObjects(ctx); err != nil {
		return nil, err
	}
	if err := d.startRelay(bin); err != nil {
		return nil, err
	}
	for _, h := range podHosts {
		host := nw.Host(h)
		if _, err := r.Start(host, "pod-"+h, []string{filepath.Join(bin, "demopod"), "--name=web-" + h, "--http=:8080", "--udp=:9053"}, lab.ProcOptions{Quiet: true}); err != nil {
			return nil, err
		}
	}
	for _, h := range agentHosts {
		if err := d.startAgent(ctx, bin, h); err != nil {
			return nil, err
		}
	}
	return d, d.waitAgents(ctx)
}

// apiObjects creates the agent's RBAC, the Nodes (with their site labels), two Services without
// selectors and their EndpointSlices naming the stand-in pods at site b.
func (d *demo) apiObjects(ctx context.Context) error {
	step("creating Nodes, Services shop/web (TCP) and shop/echo (UDP), EndpointSlices at site b")
	c := d.client
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "outpost:edgemesh"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "outpost:edgemesh"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "outpost:edgemesh"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "outpost:edgemesh"}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, s := range d.net.Sites {
		for _, h := range s.Hosts {
			if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: h.Name, Labels: map[string]string{view.SiteLabel: s.Name}},
				Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: h.IP.String()}}},
			}, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
	}
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, svc := range []struct {
		name  string
		proto corev1.Protocol
		port  int32
		pport int32
	}{{"web", corev1.ProtocolTCP, 80, 8080}, {"echo", corev1.ProtocolUDP, 53, 9053}} {
		if _, err := c.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: svc.name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "p", Protocol: svc.proto, Port: svc.port}}},
		}, metav1.CreateOptions{}); err != nil {
			return err
		}
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: svc.name + "-b", Labels: map[string]string{discoveryv1.LabelServiceName: svc.name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("p"), Protocol: ptr.To(svc.proto), Port: ptr.To(svc.pport)}},
		}
		for _, h := range podHosts {
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{d.net.Host(h).IP.String()}, NodeName: ptr.To(h),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, sl, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) writePair(dir, name string, kp *pki.KeyPair) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), kp.CertPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".key"), kp.KeyPEM, 0o600)
}

func (d *demo) startRelay(bin string) error {
	h := d.net.Public["relay"]
	step("starting the relay (STUN/TURN + signalling) on %s", h.IP)
	dir := filepath.Join(d.run.Dir, "relay")
	kp, err := d.cp.CA.Issue(pki.CertSpec{CommonName: "outpost-relay", IPs: []net.IP{h.IP}, Server: true, Client: true})
	if err != nil {
		return err
	}
	if err := d.writePair(dir, "relay", kp); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), d.cp.CA.CertPEM, 0o600); err != nil {
		return err
	}
	_, err = d.run.Start(h, "relay", []string{filepath.Join(bin, "outpost-relay"),
		"--id=relay", fmt.Sprintf("--signal-addr=%s:%d", h.IP, relayPort), fmt.Sprintf("--turn-addr=%s:3478", h.IP),
		"--public-ip=" + h.IP.String(), "--relay-bind-ip=" + h.IP.String(),
		"--ca-file=" + filepath.Join(dir, "ca.crt"), "--cert-file=" + filepath.Join(dir, "relay.crt"), "--key-file=" + filepath.Join(dir, "relay.key"),
		"--metrics-addr=127.0.0.1:10551",
	}, lab.ProcOptions{Quiet: true})
	return err
}

func (d *demo) startAgent(ctx context.Context, bin, name string) error {
	h := d.net.Host(name)
	dir := filepath.Join(d.run.Dir, "agent-"+name)
	kp, err := d.cp.CA.Issue(pki.NodeSpec(name))
	if err != nil {
		return err
	}
	if err := d.writePair(dir, "node", kp); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), d.cp.CA.CertPEM, 0o600); err != nil {
		return err
	}
	kubeconfig, err := d.cp.IssueKubeconfig("edgemesh-"+name, []string{"outpost:edgemesh"}, d.cp.InternalURL)
	if err != nil {
		return err
	}
	cfg := edgemesh.NewDefaultConfig()
	cfg.NodeName = name
	cfg.Kubeconfig = kubeconfig
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.HealthAddr = healthAddr
	cfg.Proxy.ConnectTimeout.Duration = time.Second
	cfg.Tunnel.Relays = []string{fmt.Sprintf("%s:%d", d.net.Public["relay"].IP, relayPort)}
	cfg.Tunnel.CAFile = filepath.Join(dir, "ca.crt")
	cfg.Tunnel.CertFile = filepath.Join(dir, "node.crt")
	cfg.Tunnel.KeyFile = filepath.Join(dir, "node.key")
	cfg.DNS.Upstreams = []string{"127.0.0.1:1"} // nothing outside the lab: other names fail fast
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg.YAML(), 0o600); err != nil {
		return err
	}
	p, err := d.run.Start(h, "agent-"+name, []string{filepath.Join(bin, "edgemesh-agent"), "--config=" + cfgPath, "-v=1"}, lab.ProcOptions{Quiet: true})
	d.agents[name] = p
	return err
}
