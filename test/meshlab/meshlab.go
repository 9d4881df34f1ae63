// Package meshlab runs the mesh in the lab: a real kube-apiserver on a public "cloud" host, a
// relay, NAT'd sites whose hosts run edgemesh-agent processes, and stand-in pods (demopod).
// `make demo` and the mesh's end-to-end tests both stand on it.
package meshlab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/outpostmesh/outpost/edgemesh"
	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
)

// Addresses every agent uses inside its own namespace.
const (
	HealthAddr = "127.0.0.1:10550"
	DNSIP      = "169.254.96.16"
	relayPort  = 3479
	agentGroup = "outpost:edgemesh"
)

// Options shape a mesh lab.
type Options struct {
	// Sites of the topology. Default: a (easy NAT, 2 hosts) and b (hard NAT, 2 hosts).
	Sites []lab.SiteSpec
	// Bin holds edgemesh-agent, outpost-relay and demopod (see Build).
	Bin string
	// Configure, if set, adjusts each agent's configuration before it starts.
	Configure func(*edgemesh.Config)
}

// Mesh is a running mesh lab.
type Mesh struct {
	Run    *lab.Run
	Net    *lab.Network
	CP     *lab.ControlPlane
	Client kubernetes.Interface
	Relay  *lab.Process
	Agents map[string]*lab.Process
	Pods   map[string]*lab.Process

	opts Options
}

// Build compiles the binaries a mesh lab runs into dir.
func Build(dir string) error {
	for _, pkg := range []string{"cmd/edgemesh-agent", "cmd/outpost-relay", "test/cmd/demopod"} {
		cmd := exec.Command("go", "build", "-o", dir+"/", "./"+pkg)
		cmd.Dir = lab.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("meshlab: go build %s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// Start builds the network, the control plane, the agents' RBAC and the Nodes (labelled with
// their site), and starts the relay. Agents and pods start with StartAgent and StartPod.
func Start(ctx context.Context, r *lab.Run, opts Options) (*Mesh, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = []lab.SiteSpec{{Name: "a", NAT: lab.EasyNAT, Hosts: 2}, {Name: "b", NAT: lab.HardNAT, Hosts: 2}}
	}
	nw, err := r.NewNetwork(lab.Topology{Public: []string{"cloud", "relay"}, Sites: opts.Sites})
	if err != nil {
		return nil, err
	}
	cp, err := r.StartControlPlane(ctx, lab.ControlPlaneOptions{Host: nw.Public["cloud"]})
	if err != nil {
		return nil, err
	}
	client, err := cp.Client()
	if err != nil {
		return nil, err
	}
	m := &Mesh{Run: r, Net: nw, CP: cp, Client: client, Agents: map[string]*lab.Process{}, Pods: map[string]*lab.Process{}, opts: opts}
	if err := m.apiObjects(ctx); err != nil {
		return nil, err
	}
	return m, m.startRelay()
}

// apiObjects creates the agents' RBAC and a Node per site host, labelled with its site.
func (m *Mesh) apiObjects(ctx context.Context) error {
	c := m.Client
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: agentGroup},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: agentGroup},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: agentGroup},
		Subjects:   []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: agentGroup}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, s := range m.Net.Sites {
		for _, h := range s.Hosts {
			if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: h.Name, Labels: map[string]string{view.SiteLabel: s.Name}},
				Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: h.IP.String()}}},
			}, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
	}
	return nil
}

func writePair(dir, name string, kp *pki.KeyPair, ca *pki.CA) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for file, b := range map[string][]byte{name + ".crt": kp.CertPEM, name + ".key": kp.KeyPEM, "ca.crt": ca.CertPEM} {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mesh) startRelay() error {
	h := m.Net.Public["relay"]
	dir := filepath.Join(m.Run.Dir, "relay")
	kp, err := m.CP.CA.Issue(pki.CertSpec{CommonName: "outpost-relay", IPs: []net.IP{h.IP}, Server: true, Client: true})
	if err != nil {
		return err
	}
	if err := writePair(dir, "relay", kp, m.CP.CA); err != nil {
		return err
	}
	m.Relay, err = m.Run.Start(h, "relay", []string{filepath.Join(m.opts.Bin, "outpost-relay"),
		"--id=relay", fmt.Sprintf("--signal-addr=%s:%d", h.IP, relayPort), fmt.Sprintf("--turn-addr=%s:3478", h.IP),
		"--public-ip=" + h.IP.String(), "--relay-bind-ip=" + h.IP.String(),
		"--ca-file=" + filepath.Join(dir, "ca.crt"), "--cert-file=" + filepath.Join(dir, "relay.crt"), "--key-file=" + filepath.Join(dir, "relay.key"),
		"--metrics-addr=127.0.0.1:10551",
	}, lab.ProcOptions{Quiet: true})
	return err
}

// StartAgent starts (or restarts, keeping its state directory) the agent on host name and
// waits until it serves its view; synced says whether to wait for the API as well.
func (m *Mesh) StartAgent(ctx context.Context, name string, synced bool) error {
	h := m.Net.Host(name)
	if h == nil {
		return fmt.Errorf("meshlab: no host %s", name)
	}
	dir := filepath.Join(m.Run.Dir, "agent-"+name)
	cfgPath := filepath.Join(dir, "config.yaml")
	if _, err := os.Stat(cfgPath); err != nil {
		if err := m.writeAgentConfig(name, dir, cfgPath); err != nil {
			return err
		}
	}
	p, err := m.Run.Start(h, "agent-"+name, []string{filepath.Join(m.opts.Bin, "edgemesh-agent"), "--config=" + cfgPath, "-v=1"}, lab.ProcOptions{Quiet: true})
	if err != nil {
		return err
	}
	m.Agents[name] = p
	return m.WaitAgent(ctx, name, synced)
}

func (m *Mesh) writeAgentConfig(name, dir, cfgPath string) error {
	kp, err := m.CP.CA.Issue(pki.NodeSpec(name))
	if err != nil {
		return err
	}
	if err := writePair(dir, "node", kp, m.CP.CA); err != nil {
		return err
	}
	kubeconfig, err := m.CP.IssueKubeconfig("edgemesh-"+name, []string{agentGroup}, m.CP.InternalURL)
	if err != nil {
		return err
	}
	cfg := edgemesh.NewDefaultConfig()
	cfg.NodeName = name
	cfg.Kubeconfig = kubeconfig
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.HealthAddr = HealthAddr
	cfg.Proxy.ConnectTimeout.Duration = time.Second
	cfg.Tunnel.Relays = []string{fmt.Sprintf("%s:%d", m.Net.Public["relay"].IP, relayPort)}
	cfg.Tunnel.CAFile = filepath.Join(dir, "ca.crt")
	cfg.Tunnel.CertFile = filepath.Join(dir, "node.crt")
	cfg.Tunnel.KeyFile = filepath.Join(dir, "node.key")
	cfg.DNS.Upstreams = []string{"127.0.0.1:1"} // nothing outside the lab: other names fail fast
	if m.opts.Configure != nil {
		m.opts.Configure(cfg)
	}
	return os.WriteFile(cfgPath, cfg.YAML(), 0o600)
}

// StopAgent stops the agent on host name gracefully (it removes its rules and addresses).
func (m *Mesh) StopAgent(name string) {
	if p := m.Agents[name]; p != nil {
		p.Stop(10 * time.Second)
	}
}

// StartPod runs a stand-in pod named podName on host: HTTP on :8080, UDP echo on :9053.
func (m *Mesh) StartPod(host, podName string) (*lab.Process, error) {
	p, err := m.Run.Start(m.Net.Host(host), "pod-"+podName, []string{filepath.Join(m.opts.Bin, "demopod"),
		"--name=" + podName, "--http=:8080", "--udp=:9053"}, lab.ProcOptions{Quiet: true})
	if err == nil {
		m.Pods[podName] = p
	}
	return p, err
}
