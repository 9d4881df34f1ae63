package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
	"sigs.k8s.io/yaml"

	"github.com/outpostmesh/outpost/edgecore/edged/cniconf"
	"github.com/outpostmesh/outpost/pki"
)

// Kubelet ports inside the host's namespace (each host has its own, so fixed ports are safe).
const (
	KubeletPort        = 10250
	kubeletHealthzPort = 10248
	// kubeletClusterDNS is the clusterDNS the kubelet writes into pods' resolv.conf; nothing answers
	// there unless a test runs a DNS server on it.
	kubeletClusterDNS = "10.96.0.10"
)

// ErrKubelet reports a kubelet that could not be started or did not become Ready.
var ErrKubelet = errors.New("lab: kubelet")

// KubeletOptions says how to run a real kubelet.
type KubeletOptions struct {
	// NodeName is the Node the kubelet registers (a DNS-1123 subdomain). Required.
	NodeName string
	// CRIEndpoint is the container runtime's CRI socket, unix:///... (Containerd.Socket).
	// Required.
	CRIEndpoint string
	// NodeIP is the node's InternalIP, where the apiserver reaches the kubelet (logs, exec).
	// Default: the host's IP; 127.0.0.1 for a host without one (then only processes in the
	// host's namespace reach the kubelet).
	NodeIP net.IP
	// PodCIDR is the node's pod network. Without a controller-manager nobody allocates one:
	// StartKubelet sets it on the Node when the Node has none. Default 10.244.<n>.0/24 with n
	// derived from NodeName.
	PodCIDR string
	// CNIConfDir, when set, receives a bridge conflist for PodCIDR (host-local IPAM with its
	// own data directory), as a CNI DaemonSet would write it; the kubelet itself writes none.
	// Containerd.CNIConfDir. It is removed at Close.
	CNIConfDir string
	// Labels are set on the Node by the admin after registration (the kubelet may not set
	// most labels on its own Node, e.g. node-role.kubernetes.io/*).
	Labels map[string]string
	// Taints are the Node's taints from registration on (KubeletConfiguration
	// registerWithTaints).
	Taints []corev1.Taint
	// Config overrides or adds top-level KubeletConfiguration fields (JSON names).
	Config map[string]any
	// Verbosity is the kubelet's -v. Default 1.
	Verbosity int
	// ReadyTimeout bounds the wait for the Node's Ready condition. Default 90 s.
	ReadyTimeout time.Duration
}

// Kubelet is a running kubelet and its Node.
type Kubelet struct {
	NodeName string
	NodeIP   net.IP
	PodCIDR  string
	// Dir holds the kubelet's PKI, configuration and resolv.conf; RootDir its --root-dir,
	// LogsDir its podLogsDirectory.
	Dir, RootDir, LogsDir string
	// ConfigPath is the KubeletConfiguration file.
	ConfigPath string
	Process    *Process

	cp        *ControlPlane
	host      *Host
	client    kubernetes.Interface
	endpoint  string
	cniFile   string
	cniData   string
	tunables  map[string]string
	pods      *podUIDs
	closeOnce sync.Once
	closeErr  error
}

// StartKubelet runs the real kubelet (KubernetesBinDir()/kubelet) in host's namespace against
// the runtime at opts.CRIEndpoint, and waits until its Node is Ready. Close (also called by
// the run) stops it, removes the containers of its pods, unmounts what it mounted and deletes
// its Node.
func (cp *ControlPlane) StartKubelet(ctx context.Context, host *Host, opts KubeletOptions) (*Kubelet, error) {
	if err := opts.defaults(host); err != nil {
		return nil, err
	}
	client, err := cp.Client()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cp.run.Dir, "kubelet-"+opts.NodeName)
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("%w: node %s already has a kubelet in this run", ErrKubelet, opts.NodeName)
	}
	k := &Kubelet{
		NodeName: opts.NodeName, NodeIP: opts.NodeIP, PodCIDR: opts.PodCIDR,
		Dir: dir, RootDir: filepath.Join(dir, "root"), LogsDir: filepath.Join(dir, "pods"),
		ConfigPath: filepath.Join(dir, "config.yaml"),
		cp:         cp, host: host, client: client, endpoint: opts.CRIEndpoint,
	}
	for _, d := range []string{k.RootDir, k.LogsDir, filepath.Join(dir, "volume-plugins")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKubelet, err)
		}
	}
	// From here on, whatever happens, the run undoes it.
	cp.run.Defer("kubelet "+opts.NodeName, k.Close)
	k.tunables = saveKubeletTunables()
	if err := k.writePKI(); err != nil {
		return nil, err
	}
	if err := k.writeConfig(opts); err != nil {
		return nil, err
	}
	if opts.CNIConfDir != "" {
		if err := k.writeCNI(opts.CNIConfDir); err != nil {
			return nil, err
		}
	}
	bin, err := KubernetesBinDir()
	if err != nil {
		return nil, err
	}
	// Network namespace only (ProcOptions.NetnsOnly): the kubelet requires the cgroup mounts,
	// and its volume mounts must be visible to the runtime.
	p, err := cp.run.Start(host, "kubelet-"+opts.NodeName, []string{
		filepath.Join(bin, "kubelet"),
		"--config=" + k.ConfigPath,
		"--kubeconfig=" + filepath.Join(dir, "kubelet.kubeconfig"),
		"--hostname-override=" + opts.NodeName,
		"--node-ip=" + opts.NodeIP.String(),
		"--root-dir=" + k.RootDir,
		"--cert-dir=" + filepath.Join(dir, "pki"),
		fmt.Sprintf("--v=%d", opts.Verbosity),
	}, ProcOptions{Quiet: true, NetnsOnly: true})
	if err != nil {
		return nil, err
	}
	k.Process = p
	k.pods = trackPodUIDs(client, opts.NodeName)
	if err := k.waitReady(ctx, opts); err != nil {
		return nil, err
	}
	return k, nil
}

func (o *KubeletOptions) defaults(host *Host) error {
	if host == nil {
		return fmt.Errorf("%w: no host", ErrKubelet)
	}
	if errs := validation.IsDNS1123Subdomain(o.NodeName); len(errs) > 0 {
		return fmt.Errorf("%w: node name %q: %s", ErrKubelet, o.NodeName, strings.Join(errs, "; "))
	}
	if !strings.HasPrefix(o.CRIEndpoint, "unix:///") {
		return fmt.Errorf("%w: CRI endpoint %q is not unix:///path", ErrKubelet, o.CRIEndpoint)
	}
	if o.NodeIP == nil {
		o.NodeIP = host.IP
	}
	if o.NodeIP == nil {
		o.NodeIP = net.IPv4(127, 0, 0, 1)
	}
	if o.PodCIDR == "" {
		var n byte
		for _, c := range []byte(o.NodeName) {
			n = n*31 + c
		}
		o.PodCIDR = fmt.Sprintf("10.244.%d.0/24", n)
	}
	if _, _, err := net.ParseCIDR(o.PodCIDR); err != nil {
		return fmt.Errorf("%w: pod CIDR: %w", ErrKubelet, err)
	}
	if o.Verbosity == 0 {
		o.Verbosity = 1
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	return nil
}

func (k *Kubelet) path(name string) string { return filepath.Join(k.Dir, name) }

// writePKI issues the node's client certificate (the apiserver's Node authorizer wants
// system:node:<name> in system:nodes) and the kubelet's serving certificate, which the
// apiserver verifies against the same CA (--kubelet-certificate-authority).
func (k *Kubelet) writePKI() error {
	client, err := k.cp.CA.Issue(pki.CertSpec{
		CommonName: pki.NodeCommonName(k.NodeName), Organization: []string{pki.NodesGroup}, Client: true,
	})
	if err != nil {
		return err
	}
	serving, err := k.cp.CA.Issue(pki.CertSpec{
		CommonName: k.NodeName, DNSNames: []string{k.NodeName}, IPs: []net.IP{k.NodeIP}, Server: true,
	})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt": k.cp.CA.CertPEM, "node.crt": client.CertPEM, "node.key": client.KeyPEM,
		"serving.crt": serving.CertPEM, "serving.key": serving.KeyPEM,
		// A resolv.conf of our own: the kubelet must not hand the machine's to pods.
		"resolv.conf": []byte("nameserver " + kubeletClusterDNS + "\noptions ndots:5\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(k.path(name), b, 0o600); err != nil {
			return fmt.Errorf("%w: %w", ErrKubelet, err)
		}
	}
	return k.cp.WriteKubeconfig(k.path("kubelet.kubeconfig"), k.cp.InternalURL, k.path("node.crt"), k.path("node.key"))
}

// writeConfig writes the KubeletConfiguration. Each setting that departs from the defaults is
// there because this machine needs it (see the comments) or to keep the kubelet's files
// inside the run.
func (k *Kubelet) writeConfig(opts KubeletOptions) error {
	cfg := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		"kind":       "KubeletConfiguration",
		// containerd 1.6 lacks the CRI RuntimeConfig call: the kubelet uses this driver.
		"cgroupDriver": "cgroupfs",
		// The machine runs cgroup v1 (hybrid); 1.36 refuses v1 unless told.
		"failCgroupV1": false,
		"failSwapOn":   false,
		// No QoS cgroup tree (/kubepods): it would be machine-wide and outlive the run; pods'
		// cgroups are containerd's. Node allocatable enforcement needs that tree.
		"cgroupsPerQOS":          false,
		"enforceNodeAllocatable": []string{},
		"authentication": map[string]any{
			"x509":      map[string]any{"clientCAFile": k.path("ca.crt")},
			"webhook":   map[string]any{"enabled": false},
			"anonymous": map[string]any{"enabled": false},
		},
		"authorization":            map[string]any{"mode": "AlwaysAllow"},
		"tlsCertFile":              k.path("serving.crt"),
		"tlsPrivateKeyFile":        k.path("serving.key"),
		"address":                  k.NodeIP.String(),
		"port":                     KubeletPort,
		"readOnlyPort":             0,
		"healthzBindAddress":       "127.0.0.1",
		"healthzPort":              kubeletHealthzPort,
		"podLogsDirectory":         k.LogsDir,
		"volumePluginDir":          k.path("volume-plugins"),
		"clusterDNS":               []string{kubeletClusterDNS},
		"clusterDomain":            "cluster.local",
		"resolvConf":               k.path("resolv.conf"),
		"containerRuntimeEndpoint": opts.CRIEndpoint,
		"imageServiceEndpoint":     opts.CRIEndpoint,
		"podCIDR":                  opts.PodCIDR,
		"registerNode":             true,
		// The lab's images are imported, not pulled: garbage collection must never remove
		// them, and the shared disk's usage is none of the lab's business.
		"imageGCHighThresholdPercent": 100,
		"imageGCLowThresholdPercent":  99,
		"evictionHard": map[string]string{
			"memory.available": "1Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%",
		},
		"evictionPressureTransitionPeriod": "5s",
		// Nobody on this machine must be told to sleep while pods stop.
		"shutdownGracePeriod": "0s",
	}
	if len(opts.Taints) > 0 {
		cfg["registerWithTaints"] = opts.Taints
	}
	for key, v := range opts.Config {
		cfg[key] = v
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("%w: config: %w", ErrKubelet, err)
	}
	if err := os.WriteFile(k.ConfigPath, b, 0o600); err != nil {
		return fmt.Errorf("%w: %w", ErrKubelet, err)
	}
	return nil
}

// writeCNI writes the same bridge network edged writes for its node (edged.CNIConfig: bridge,
// ipMasq, portmap), so a benchmark compares the agents and not their networks; host-local IPAM
// keeps its leases under the kubelet's directory rather than the machine-wide /var/lib/cni.
func (k *Kubelet) writeCNI(confDir string) error {
	k.cniData = k.path("cni-ipam")
	b, err := cniconf.Bridge("cni0", k.PodCIDR, k.cniData)
	if err != nil {
		return fmt.Errorf("%w: cni: %w", ErrKubelet, err)
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrKubelet, err)
	}
	k.cniFile = filepath.Join(confDir, "10-lab-kubelet.conflist")
	if err := os.WriteFile(k.cniFile, b, 0o644); err != nil {
		return fmt.Errorf("%w: %w", ErrKubelet, err)
	}
	return nil
}

// waitReady waits for the Node, gives it its pod CIDR and labels, and waits for Ready.
func (k *Kubelet) waitReady(ctx context.Context, opts KubeletOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	err := WaitNodeReady(ctx, k.client, k.NodeName, k.Process, func(node *corev1.Node) error {
		return k.adopt(ctx, node, opts)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKubelet, err)
	}
	return nil
}

// adopt does what a controller-manager and an operator would: pod CIDR and labels.
func (k *Kubelet) adopt(ctx context.Context, node *corev1.Node, opts KubeletOptions) error {
	patch := map[string]any{}
	if node.Spec.PodCIDR == "" {
		patch["spec"] = map[string]any{"podCIDR": k.PodCIDR, "podCIDRs": []string{k.PodCIDR}}
	} else {
		k.PodCIDR = node.Spec.PodCIDR
	}
	if len(opts.Labels) > 0 {
		patch["metadata"] = map[string]any{"labels": opts.Labels}
	}
	if len(patch) == 0 {
		return nil
	}
	b, _ := json.Marshal(patch)
	_, err := k.client.CoreV1().Nodes().Patch(ctx, k.NodeName, types.StrategicMergePatchType, b, metav1.PatchOptions{})
	return err
}

// Close stops the kubelet, removes its pods' sandboxes and containers from the runtime and its
// pods from the apiserver, unmounts everything under its root directory, deletes its Node,
// removes its CNI file and restores the kernel settings it changed. It runs once; the run
// calls it too.
func (k *Kubelet) Close() error {
	k.closeOnce.Do(func() { k.closeErr = k.close() })
	return k.closeErr
}

func (k *Kubelet) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if k.Process != nil {
		k.Process.Stop(10 * time.Second)
	}
	var errs []error
	uids, err := k.deletePods(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	// Pods deleted earlier may still have a stopped sandbox (the kubelet removes them lazily);
	// their UIDs remain in the kubelet's pod and log directories.
	for uid := range k.localPodUIDs() {
		uids[uid] = true
	}
	if k.pods != nil {
		for uid := range k.pods.close() {
			uids[uid] = true
		}
	}
	if err := removeKubeletSandboxes(ctx, k.endpoint, func(labels map[string]string) bool {
		return uids[labels["io.kubernetes.pod.uid"]]
	}); err != nil {
		errs = append(errs, err)
	}
	if err := unmountKubeletDir(k.RootDir); err != nil {
		errs = append(errs, err)
	}
	if err := k.client.CoreV1().Nodes().Delete(ctx, k.NodeName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("%w: delete node %s: %w", ErrKubelet, k.NodeName, err))
	}
	if k.cniFile != "" {
		if err := os.Remove(k.cniFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	restoreKubeletTunables(k.tunables)
	return errors.Join(errs...)
}

// deletePods removes the node's pods from the apiserver at once (nobody is left to finish
// them gracefully) and returns their UIDs.
func (k *Kubelet) deletePods(ctx context.Context) (map[string]bool, error) {
	pods, err := k.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + k.NodeName})
	uids := map[string]bool{}
	if err != nil {
		return uids, fmt.Errorf("%w: list pods of %s: %w", ErrKubelet, k.NodeName, err)
	}
	var errs []error
	zero := int64(0)
	for _, p := range pods.Items {
		uids[string(p.UID)] = true
		err := k.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return uids, errors.Join(errs...)
}

// localPodUIDs lists the UIDs of the pods the kubelet has directories for: RootDir/pods/<uid>
// and LogsDir/<namespace>_<name>_<uid>.
func (k *Kubelet) localPodUIDs() map[string]bool {
	uids := map[string]bool{}
	if entries, err := os.ReadDir(filepath.Join(k.RootDir, "pods")); err == nil {
		for _, e := range entries {
			uids[e.Name()] = true
		}
	}
	if entries, err := os.ReadDir(k.LogsDir); err == nil {
		for _, e := range entries {
			if i := strings.LastIndexByte(e.Name(), '_'); i >= 0 {
				uids[e.Name()[i+1:]] = true
			}
		}
	}
	return uids
}

// removeKubeletSandboxes stops and removes, through CRI, the pod sandboxes (and with them their
// containers) whose labels match.
func removeKubeletSandboxes(ctx context.Context, endpoint string, match func(map[string]string) bool) error {
	conn, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(endpoint, "unix://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
	if err != nil {
		return fmt.Errorf("%w: cri %s: %w", ErrKubelet, endpoint, err)
	}
	defer conn.Close()
	rs := cri.NewRuntimeServiceClient(conn)
	list, err := rs.ListPodSandbox(ctx, &cri.ListPodSandboxRequest{})
	if err != nil {
		if _, statErr := os.Stat(strings.TrimPrefix(endpoint, "unix://")); errors.Is(statErr, os.ErrNotExist) {
			return nil // the runtime is gone, and its own cleanup removed its pods
		}
		return fmt.Errorf("%w: cri list sandboxes: %w", ErrKubelet, err)
	}
	var errs []error
	for _, sb := range list.Items {
		if !match(sb.Labels) {
			continue
		}
		if _, err := rs.StopPodSandbox(ctx, &cri.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("cri stop sandbox %s: %w", sb.Id, err))
		}
		if _, err := rs.RemovePodSandbox(ctx, &cri.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("cri remove sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

// unmountKubeletDir lazily unmounts every mount point at or below dir, deepest first
// (mountsUnder: the kubelet runs in this process's mount namespace).
func unmountKubeletDir(dir string) error {
	var errs []error
	for _, p := range mountsUnder(filepath.Clean(dir)) {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("lab: unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// kubeletTunables are the machine-wide sysctls the kubelet sets at start (its container
// manager's setupKernelTunables; protectKernelDefaults would refuse to start instead). The lab
// puts back what it found.
var kubeletTunables = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

func saveKubeletTunables() map[string]string {
	saved := map[string]string{}
	for _, t := range kubeletTunables {
		if b, err := os.ReadFile("/proc/sys/" + t); err == nil {
			saved[t] = strings.TrimSpace(string(b))
		}
	}
	return saved
}

func restoreKubeletTunables(saved map[string]string) {
	for t, v := range saved {
		_ = os.WriteFile("/proc/sys/"+t, []byte(v), 0o644)
	}
}
