package lab

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/outpostmesh/outpost/pki"
)

// Fixed ports are safe: every control plane has a namespace of its own.
const (
	apiserverPort = 6443
	etcdClient    = "http://127.0.0.1:2379"
	etcdPeer      = "http://127.0.0.1:2380"
	// ServiceCIDR is the apiserver's --service-cluster-ip-range.
	ServiceCIDR = "10.96.0.0/16"
	// ClusterCIDR is the controller-manager's pod network; each node gets a /24 of it.
	ClusterCIDR = "10.244.0.0/16"
)

// ControlPlaneOptions says what to run.
type ControlPlaneOptions struct {
	// Host runs the control plane (a public host such as "cloud"); nil: a namespace of its own.
	Host *Host
	// ControllerManager and Scheduler also start kube-controller-manager and kube-scheduler
	// (Deployments, DaemonSets, ServiceAccounts and kube-root-ca.crt need them).
	ControllerManager, Scheduler bool
}

// ControlPlane is a running etcd + kube-apiserver (+ controller-manager, scheduler).
type ControlPlane struct {
	Host *Host
	// CA signs every control-plane certificate and is the apiserver's client CA.
	CA *pki.CA
	// Admin is a system:masters client certificate.
	Admin *pki.KeyPair
	// URL reaches the apiserver from the root namespace (a loopback forwarder);
	// InternalURL from inside the lab (the host's address, or 127.0.0.1 in its own namespace).
	URL, InternalURL string
	// Kubeconfig is an admin kubeconfig for URL (what kubectl in the root namespace uses).
	Kubeconfig string
	// Dir holds the PKI and kubeconfigs.
	Dir string

	Etcd, APIServer, ControllerManager, Scheduler *Process

	run    *Run
	bin    string
	apiArg []string
}

// StartControlPlane starts the control plane and waits until the apiserver's /readyz is ok.
func (r *Run) StartControlPlane(ctx context.Context, opts ControlPlaneOptions) (*ControlPlane, error) {
	bin, err := KubernetesBinDir()
	if err != nil {
		return nil, err
	}
	h := opts.Host
	if h == nil {
		if h, err = r.newHost("cp"); err != nil {
			return nil, err
		}
	}
	cp := &ControlPlane{Host: h, run: r, bin: bin, Dir: filepath.Join(r.Dir, "controlplane-"+h.Name)}
	if err := os.MkdirAll(cp.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	advertise := "127.0.0.1"
	if h.IP != nil {
		advertise = h.IP.String()
	}
	cp.InternalURL = fmt.Sprintf("https://%s:%d", advertise, apiserverPort)
	if err := cp.writePKI(advertise); err != nil {
		return nil, err
	}
	if err := cp.startEtcd(); err != nil {
		return nil, err
	}
	if err := cp.startForwarder(); err != nil {
		return nil, err
	}
	cp.apiArg = cp.apiserverArgs(advertise)
	if err := cp.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	if opts.ControllerManager {
		if err := cp.startControllerManager(); err != nil {
			return nil, err
		}
	}
	if opts.Scheduler {
		if err := cp.startScheduler(); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

func (cp *ControlPlane) path(name string) string { return filepath.Join(cp.Dir, name) }

// writePKI creates the CA, the apiserver's serving and kubelet-client certificates, the
// service-account key and the client certificates of the admin and the controllers.
func (cp *ControlPlane) writePKI(advertise string) error {
	ca, err := pki.NewCA("outpost-lab-ca", 0)
	if err != nil {
		return err
	}
	cp.CA = ca
	serving, err := ca.Issue(pki.CertSpec{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(advertise), net.ParseIP("10.96.0.1")},
		Server:     true,
	})
	if err != nil {
		return err
	}
	files := map[string][]byte{"ca.crt": ca.CertPEM, "ca.key": ca.KeyPEM, "apiserver.crt": serving.CertPEM, "apiserver.key": serving.KeyPEM}
	clients := map[string]pki.CertSpec{
		"admin":              {CommonName: "outpost-admin", Organization: []string{"system:masters"}, Client: true},
		"kubelet-client":     {CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}, Client: true},
		"controller-manager": {CommonName: "system:kube-controller-manager", Client: true},
		"scheduler":          {CommonName: "system:kube-scheduler", Client: true},
	}
	for name, spec := range clients {
		kp, err := ca.Issue(spec)
		if err != nil {
			return err
		}
		if name == "admin" {
			cp.Admin = kp
		}
		files[name+".crt"], files[name+".key"] = kp.CertPEM, kp.KeyPEM
	}
	sa, err := ca.Issue(pki.CertSpec{CommonName: "service-accounts"})
	if err != nil {
		return err
	}
	files["sa.key"] = sa.KeyPEM
	for name, b := range files {
		if err := os.WriteFile(cp.path(name), b, 0o600); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, c := range []struct{ file, user, server string }{
		{"admin.kubeconfig", "admin", cp.InternalURL},
		{"controller-manager.kubeconfig", "controller-manager", "https://127.0.0.1:6443"},
		{"scheduler.kubeconfig", "scheduler", "https://127.0.0.1:6443"},
	} {
		if err := cp.WriteKubeconfig(cp.path(c.file), c.server, cp.path(c.user+".crt"), cp.path(c.user+".key")); err != nil {
			return err
		}
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig for server that trusts the CA and authenticates with the
// given client certificate files.
func (cp *ControlPlane) WriteKubeconfig(path, server, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: cp.CA.CertPEM}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "user"}
	cfg.CurrentContext = "lab"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("lab: write kubeconfig: %w", err)
	}
	return nil
}

func (cp *ControlPlane) startEtcd() error {
	// etcd fsyncs every write; on tmpfs that costs nothing, and the data is throwaway.
	data, err := os.MkdirTemp("/dev/shm", "outpost-lab-"+cp.run.ID+"-etcd-")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	cp.run.Defer("etcd data", func() error { return os.RemoveAll(data) })
	p, err := cp.run.Start(cp.Host, "etcd", []string{"etcd",
		"--name=lab", "--data-dir=" + data,
		"--listen-client-urls=" + etcdClient, "--advertise-client-urls=" + etcdClient,
		"--listen-peer-urls=" + etcdPeer, "--initial-advertise-peer-urls=" + etcdPeer,
		"--initial-cluster=lab=" + etcdPeer, "--logger=zap", "--log-level=warn",
	}, ProcOptions{Quiet: true})
	cp.Etcd = p
	return err
}

func (cp *ControlPlane) apiserverArgs(advertise string) []string {
	args := []string{filepath.Join(cp.bin, "kube-apiserver"),
		"--etcd-servers=" + etcdClient,
		"--bind-address=0.0.0.0", fmt.Sprintf("--secure-port=%d", apiserverPort),
		"--advertise-address=" + advertise,
		"--cert-dir=" + cp.path("apiserver-certs"),
		"--tls-cert-file=" + cp.path("apiserver.crt"), "--tls-private-key-file=" + cp.path("apiserver.key"),
		"--client-ca-file=" + cp.path("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.path("sa.key"), "--service-account-signing-key-file=" + cp.path("sa.key"),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + cp.path("kubelet-client.crt"),
		"--kubelet-client-key=" + cp.path("kubelet-client.key"),
		"--kubelet-certificate-authority=" + cp.path("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		"--profiling=false",
	}
	if advertise == "127.0.0.1" {
		// The lease reconciler refuses a loopback advertise address (LAB.md).
		args = append(args, "--endpoint-reconciler-type=none")
	}
	return args
}

// StartAPIServer (re)starts kube-apiserver and waits for /readyz.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	p, err := cp.run.Start(cp.Host, "kube-apiserver", cp.apiArg, ProcOptions{Quiet: true})
	if err != nil {
		return err
	}
	cp.APIServer = p
	return cp.waitReady(ctx, p)
}

// StopAPIServer stops kube-apiserver (an outage of the cloud); etcd keeps running.
func (cp *ControlPlane) StopAPIServer() { cp.APIServer.Stop(10 * time.Second) }

func (cp *ControlPlane) waitReady(ctx context.Context, p *Process) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	hc := cp.httpClient()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.URL+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Done():
			return fmt.Errorf("lab: kube-apiserver exited: %v\n%s", p.Err(), p.Tail(30))
		case <-ctx.Done():
			return fmt.Errorf("lab: kube-apiserver not ready: %w (last: %v)\n%s", ctx.Err(), err, p.Tail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (cp *ControlPlane) httpClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      cp.CA.Pool(),
		Certificates: []tls.Certificate{cp.Admin.TLSCertificate()},
	}}}
}

// startForwarder gives the root namespace a loopback address for the apiserver, so tests and
// kubectl use an ordinary kubeconfig while the apiserver lives in the lab.
func (cp *ControlPlane) startForwarder() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	target := fmt.Sprintf("127.0.0.1:%d", apiserverPort)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				up, err := cp.Host.DialContext(ctx, "tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				Splice(c, up)
			}()
		}
	}()
	cp.run.Defer("apiserver forwarder", func() error { l.Close(); <-done; return nil })
	cp.URL = "https://" + l.Addr().String()
	cp.Kubeconfig = cp.path("root.kubeconfig")
	return cp.WriteKubeconfig(cp.Kubeconfig, cp.URL, cp.path("admin.crt"), cp.path("admin.key"))
}

// Splice copies both ways until both directions are done, passing half-closes on.
func Splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// RestConfig is an admin client configuration for the root namespace.
func (cp *ControlPlane) RestConfig() *rest.Config {
	return &rest.Config{
		Host: cp.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: cp.CA.CertPEM, CertData: cp.Admin.CertPEM, KeyData: cp.Admin.KeyPEM,
		},
		QPS: 200, Burst: 400,
	}
}

// Client is an admin clientset.
func (cp *ControlPlane) Client() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(cp.RestConfig())
}

// IssueKubeconfig writes a kubeconfig for a client named user in groups, pointing at server
// (InternalURL for processes inside the lab), and returns its path.
func (cp *ControlPlane) IssueKubeconfig(user string, groups []string, server string) (string, error) {
	kp, err := cp.CA.Issue(pki.CertSpec{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		return "", err
	}
	base := cp.path("user-" + user)
	if err := os.WriteFile(base+".crt", kp.CertPEM, 0o600); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(base+".key", kp.KeyPEM, 0o600); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	return base + ".kubeconfig", cp.WriteKubeconfig(base+".kubeconfig", server, base+".crt", base+".key")
}

func (cp *ControlPlane) startControllerManager() error {
	p, err := cp.run.Start(cp.Host, "kube-controller-manager", []string{filepath.Join(cp.bin, "kube-controller-manager"),
		"--kubeconfig=" + cp.path("controller-manager.kubeconfig"),
		"--service-account-private-key-file=" + cp.path("sa.key"),
		"--root-ca-file=" + cp.path("ca.crt"),
		"--cluster-signing-cert-file=" + cp.path("ca.crt"), "--cluster-signing-key-file=" + cp.path("ca.key"),
		"--use-service-account-credentials=true",
		"--leader-elect=false",
		"--allocate-node-cidrs=true", "--cluster-cidr=" + ClusterCIDR,
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--bind-address=127.0.0.1", "--secure-port=10257",
		"--authentication-skip-lookup=true",
		// Edge autonomy (see doc.go): node-lifecycle still taints an unreachable node, but
		// without the taint-eviction controller nothing evicts its pods after 300 s.
		"--controllers=*,-taint-eviction-controller",
	}, ProcOptions{Quiet: true})
	cp.ControllerManager = p
	return err
}

func (cp *ControlPlane) startScheduler() error {
	p, err := cp.run.Start(cp.Host, "kube-scheduler", []string{filepath.Join(cp.bin, "kube-scheduler"),
		"--kubeconfig=" + cp.path("scheduler.kubeconfig"),
		"--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=10259",
		"--authentication-skip-lookup=true",
	}, ProcOptions{Quiet: true})
	cp.Scheduler = p
	return err
}
