// Package edgelab runs Outpost's orchestration core in the lab: a real kube-apiserver and a
// cloudcore process on the public host "cloud", and NAT'd sites whose hosts join with
// `outpost join` and run edgecore processes. The cloud-edge end-to-end tests stand on it.
// With Options.Controllers the controller manager and scheduler run too; with Options.Edged
// every edge gets a containerd of its own and runs pods through edged (edged.go).
package edgelab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
)

// Ports cloudcore listens on (on the cloud host) and edgecore serves on (each edge's loopback).
const (
	HubPort        = 10000
	JoinPort       = 10002
	CloudHealth    = 10005
	MetaServerAddr = "127.0.0.1:10350"
	EdgeHealthAddr = "127.0.0.1:10351"
	// StreamAddr is edgecore's stream server (the kubelet API subset) when edged runs.
	StreamAddr = "127.0.0.1:10250"
)

// Timings shortened for tests: a cut edge is seen within seconds, reconnects within a second
// of the link's return, and reports every second.
type Timings struct {
	// HubPing and HubPongTimeout: cloudcore's heartbeat (a cut is seen after HubPongTimeout).
	HubPing, HubPongTimeout time.Duration
	// Grace is the edge controller's grace period before Ready=Unknown.
	Grace time.Duration
	// EdgeKeepAlive, EdgeReadIdle, EdgeMaxBackoff tune edgecore's hub client.
	EdgeKeepAlive, EdgeReadIdle, EdgeMaxBackoff time.Duration
	// StatusInterval is edgecore's node status period.
	StatusInterval time.Duration
}

// FastTimings suit a test that cuts links for a few seconds.
func FastTimings() Timings {
	return Timings{
		HubPing: time.Second, HubPongTimeout: 5 * time.Second, Grace: 6 * time.Second,
		EdgeKeepAlive: time.Second, EdgeReadIdle: 6 * time.Second, EdgeMaxBackoff: time.Second,
		StatusInterval: 2 * time.Second,
	}
}

// Options shape an edge lab.
type Options struct {
	// Sites of the topology. Default: a (easy NAT, 2 hosts).
	Sites []lab.SiteSpec
	// Bin holds cloudcore, edgecore and outpost (see Build).
	Bin string
	// Timings; zero: FastTimings.
	Timings *Timings
	// Controllers also starts kube-controller-manager (node podCIDRs, default
	// ServiceAccounts, kube-root-ca.crt) and kube-scheduler with the control plane.
	Controllers bool
	// Edged gives every edge a containerd of its own (Edge.Containerd, started by the first
	// StartEdge) and runs edgecore with edged on it (edged.go).
	Edged bool
}

// Lab is a running edge lab.
type Lab struct {
	Run    *lab.Run
	Net    *lab.Network
	CP     *lab.ControlPlane
	Client kubernetes.Interface
	// Cloud is the cloud host; CloudCore its cloudcore process (replaced by StartCloudCore).
	Cloud     *lab.Host
	CloudCore *lab.Process
	Edges     map[string]*Edge

	opts       Options
	cloudCfg   string
	cloudStart int
}

// Edge is one joined edge host.
type Edge struct {
	Name string
	Host *lab.Host
	// Dir holds pki/ and edgecore.yaml; data/ the meta store.
	Dir    string
	Config string
	Proc   *lab.Process
	// Containerd is the edge's container runtime (Options.Edged), nil otherwise.
	Containerd *lab.Containerd

	starts int
}

// Build compiles cloudcore, edgecore and outpost into dir in one go build.
func Build(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/cloudcore", "./cmd/edgecore", "./cmd/outpost")
	cmd.Dir = lab.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("edgelab: go build: %w\n%s", err, out)
	}
	return nil
}

// Start builds the network and the control plane and starts cloudcore. Edges join with Join.
func Start(ctx context.Context, r *lab.Run, opts Options) (*Lab, error) {
	if len(opts.Sites) == 0 {
		opts.Sites = []lab.SiteSpec{{Name: "a", NAT: lab.EasyNAT, Hosts: 2}}
	}
	if opts.Timings == nil {
		t := FastTimings()
		opts.Timings = &t
	}
	nw, err := r.NewNetwork(lab.Topology{Public: []string{"cloud"}, Sites: opts.Sites})
	if err != nil {
		return nil, err
	}
	cloud := nw.Public["cloud"]
	cp, err := r.StartControlPlane(ctx, lab.ControlPlaneOptions{Host: cloud, ControllerManager: opts.Controllers, Scheduler: opts.Controllers})
	if err != nil {
		return nil, err
	}
	client, err := cp.Client()
	if err != nil {
		return nil, err
	}
	l := &Lab{Run: r, Net: nw, CP: cp, Client: client, Cloud: cloud, Edges: map[string]*Edge{}, opts: opts}
	if err := l.writeCloudConfig(); err != nil {
		return nil, err
	}
	return l, l.StartCloudCore(ctx)
}

func (l *Lab) writeCloudConfig() error {
	kc, err := l.CP.IssueKubeconfig("outpost-cloudcore", []string{"system:masters"}, l.CP.InternalURL)
	if err != nil {
		return err
	}
	t := l.opts.Timings
	d := func(v time.Duration) metav1.Duration { return metav1.Duration{Duration: v} }
	cfg := map[string]any{
		"apiVersion":      "outpost.dev/v1alpha1",
		"kind":            "CloudCoreConfig",
		"kubeconfig":      kc,
		"publicAddresses": []string{l.Cloud.IP.String()},
		"hub":             map[string]any{"addr": fmt.Sprintf(":%d", HubPort), "pingPeriod": d(t.HubPing), "pongTimeout": d(t.HubPongTimeout)},
		"join":            map[string]any{"addr": fmt.Sprintf(":%d", JoinPort)},
		"edgeController":  map[string]any{"gracePeriod": d(t.Grace)},
		"healthAddr":      fmt.Sprintf(":%d", CloudHealth),
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	l.cloudCfg = filepath.Join(l.Run.Dir, "cloudcore.yaml")
	return os.WriteFile(l.cloudCfg, b, 0o600)
}

// StartCloudCore starts (or restarts, after StopCloudCore) cloudcore and waits until it is ready.
func (l *Lab) StartCloudCore(ctx context.Context) error {
	l.cloudStart++
	name := "cloudcore"
	if l.cloudStart > 1 {
		name = fmt.Sprintf("cloudcore-%d", l.cloudStart)
	}
	p, err := l.Run.Start(l.Cloud, name, []string{filepath.Join(l.opts.Bin, "cloudcore"), "--config", l.cloudCfg, "-v=1"}, lab.ProcOptions{})
	if err != nil {
		return err
	}
	l.CloudCore = p
	return waitHTTP(ctx, l.Cloud, fmt.Sprintf("%s:%d", l.Cloud.IP, CloudHealth), p)
}

// StopCloudCore stops cloudcore with SIGTERM (a graceful shutdown).
func (l *Lab) StopCloudCore() { l.CloudCore.Stop(10 * time.Second) }

// JoinEndpoint is cloudcore's join endpoint as edges dial it.
func (l *Lab) JoinEndpoint() string { return fmt.Sprintf("%s:%d", l.Cloud.IP, JoinPort) }

// CreateToken runs `outpost token create` in the root namespace with the admin kubeconfig.
func (l *Lab) CreateToken(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(l.opts.Bin, "outpost"), "token", "create", "--kubeconfig", l.CP.Kubeconfig, "--ttl", "10m")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("edgelab: outpost token create: %w: %s", err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// JoinCmd runs `outpost join` on host with token as node name into dir; it returns the
// command's combined output.
func (l *Lab) JoinCmd(host *lab.Host, token, name, dir string) (string, error) {
	return host.Exec(filepath.Join(l.opts.Bin, "outpost"), "join", "--cloud", l.JoinEndpoint(), "--token", token,
		"--node-name", name, "--dir", dir, "--data-dir", filepath.Join(dir, "data"))
}

// Join creates a token, joins host (as node host.Name) and adjusts the written configuration
// to the lab's timings. It does not start edgecore.
func (l *Lab) Join(ctx context.Context, host *lab.Host) (*Edge, error) {
	tok, err := l.CreateToken(ctx)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(l.Run.Dir, "edges", host.Name)
	if out, err := l.JoinCmd(host, tok, host.Name, dir); err != nil {
		return nil, fmt.Errorf("edgelab: join %s: %w\n%s", host.Name, err, out)
	}
	return l.AdoptEdge(host, dir)
}

// AdoptEdge takes a host joined into dir (`outpost join --dir dir`) into the lab: it adjusts
// the written configuration to the lab's timings and addresses. It does not start edgecore.
func (l *Lab) AdoptEdge(host *lab.Host, dir string) (*Edge, error) {
	e := &Edge{Name: host.Name, Host: host, Dir: dir, Config: filepath.Join(dir, config.FileName)}
	cfg, err := config.Load(e.Config)
	if err != nil {
		return nil, err
	}
	t := l.opts.Timings
	cfg.Hub.KeepAliveInterval.Duration = t.EdgeKeepAlive
	cfg.Hub.ReadIdleTimeout.Duration = t.EdgeReadIdle
	cfg.Hub.MaxBackoff.Duration = t.EdgeMaxBackoff
	cfg.NodeStatus.Interval.Duration = t.StatusInterval
	cfg.MetaServer.Addr = MetaServerAddr
	cfg.HealthAddr = EdgeHealthAddr
	b, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(e.Config, b, 0o644); err != nil {
		return nil, err
	}
	l.Edges[host.Name] = e
	return e, nil
}

// StartEdge starts (or restarts) edgecore on e and waits until its metaserver answers. With
// Options.Edged the first start also starts e's containerd and enables edged in its config.
func (l *Lab) StartEdge(ctx context.Context, e *Edge) error {
	if l.opts.Edged && e.Containerd == nil {
		if err := l.startEdged(ctx, e); err != nil {
			return err
		}
	}
	e.starts++
	name := "edgecore-" + e.Name
	if e.starts > 1 {
		name = fmt.Sprintf("%s-%d", name, e.starts)
	}
	// edged mounts volumes that containerd must see: only the network namespace is entered.
	p, err := l.Run.Start(e.Host, name, []string{filepath.Join(l.opts.Bin, "edgecore"), "--config", e.Config, "-v=1"}, lab.ProcOptions{NetnsOnly: l.opts.Edged})
	if err != nil {
		return err
	}
	e.Proc = p
	return waitHTTP(ctx, e.Host, EdgeHealthAddr, p)
}

// MetaServerConfig is a client-go config for e's metaserver, dialled inside e's namespace.
func (e *Edge) MetaServerConfig() *rest.Config {
	return &rest.Config{Host: "http://" + MetaServerAddr, Dial: e.Host.DialContext, QPS: 100, Burst: 200}
}

// MetaServer is a clientset for e's metaserver.
func (e *Edge) MetaServer() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(e.MetaServerConfig())
}

// NodeKeyPair is e's node certificate and key as `outpost join` wrote them.
func (e *Edge) NodeKeyPair() (*pki.KeyPair, []byte, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(e.Dir, "pki", name)) }
	c, err := read("node.crt")
	if err != nil {
		return nil, nil, err
	}
	k, err := read("node.key")
	if err != nil {
		return nil, nil, err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return nil, nil, err
	}
	kp, err := pki.ParseKeyPair(c, k)
	return kp, ca, err
}

// waitHTTP waits until GET http://addr/livez answers 200 from inside h, or p exits.
func waitHTTP(ctx context.Context, h *lab.Host, addr string, p *lab.Process) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		c, err := h.DialContext(ctx, "tcp", addr)
		if err == nil {
			_, err = fmt.Fprintf(c, "GET /livez HTTP/1.0\r\nHost: x\r\n\r\n")
			buf := make([]byte, 12)
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if err == nil && strings.Contains(string(buf[:n]), "200") {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("edgelab: %s exited: %v\n%s", p.Name, p.Err(), p.Tail(30))
		case <-ctx.Done():
			return fmt.Errorf("edgelab: %s not live at %s: %w", p.Name, addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// RestartOffline cuts site's uplink, restarts e's edgecore while the cloud is unreachable and
// waits until it is live. The uplink stays cut until restore (safe to call more than once; the
// caller defers it so that a failing test does not leave the site cut off).
func (l *Lab) RestartOffline(ctx context.Context, site *lab.Site, e *Edge) (restore func() error, err error) {
	if err := site.CutUplink(); err != nil {
		return nil, err
	}
	var once sync.Once
	var rerr error
	restore = func() error {
		once.Do(func() { rerr = site.RestoreUplink() })
		return rerr
	}
	e.Proc.Stop(10 * time.Second)
	if err := l.StartEdge(ctx, e); err != nil {
		return restore, err
	}
	return restore, nil
}
