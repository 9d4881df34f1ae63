// Package edgemesh is the mesh agent: it follows the service view, answers DNS for it on a
// node-local address, proxies service traffic (TCP and UDP) to local endpoints directly and to
// other sites' endpoints through tunnel streams, and serves the streams peers open to it.
package edgemesh

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Config identity: the YAML must carry exactly these.
const (
	ConfigAPIVersion = "outpost.dev/v1alpha1"
	ConfigKind       = "EdgeMeshAgentConfig"
)

// Config is the agent's versioned configuration file.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// NodeName is this node's name (flag --node-name or env NODE_NAME override it).
	NodeName string `json:"nodeName"`
	// Site is the node's site; empty means the node's outpost.dev/site label.
	Site string `json:"site,omitempty"`
	// Kubeconfig is the API the service view follows (the apiserver on cloud nodes, edgecore's
	// metaserver on edge nodes); empty means in-cluster configuration.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// StateDir keeps the persisted service view.
	StateDir string `json:"stateDir"`
	// HealthAddr serves /metrics, /livez, /readyz and /status.
	HealthAddr string       `json:"healthAddr"`
	DNS        DNSConfig    `json:"dns"`
	Proxy      ProxyConfig  `json:"proxy"`
	Tunnel     TunnelConfig `json:"tunnel"`
}

// DNSConfig configures the node-local DNS server.
type DNSConfig struct {
	// Enabled turns the DNS server on.
	Enabled bool `json:"enabled"`
	// Listen are the addresses served on UDP and TCP.
	Listen []string `json:"listen"`
	// NodeLocalIP is created on the node (a dummy interface, or loopback when the kernel has no
	// dummy driver) so Listen can use it; empty creates nothing.
	NodeLocalIP string `json:"nodeLocalIP,omitempty"`
	// Zone is the cluster domain.
	Zone string `json:"zone"`
	// TTL of answers from the service view.
	TTL metav1.Duration `json:"ttl"`
	// Upstreams for other names; empty means the host's resolv.conf.
	Upstreams []string `json:"upstreams,omitempty"`
}

// ProxyConfig configures the service proxy.
type ProxyConfig struct {
	// Enabled turns the proxy and its iptables rules on.
	Enabled bool `json:"enabled"`
	// ConnectTimeout bounds one connection attempt to an endpoint.
	ConnectTimeout metav1.Duration `json:"connectTimeout"`
	// Retries is how many other endpoints are tried after a failed connect.
	Retries int `json:"retries"`
	// UDPIdleTimeout ends a UDP flow that carried nothing for this long.
	UDPIdleTimeout metav1.Duration `json:"udpIdleTimeout"`
	// CoexistWithKubeProxy leaves the services kube-proxy handles to kube-proxy.
	CoexistWithKubeProxy bool `json:"coexistWithKubeProxy"`
	// FastPath lets the kernel carry connections to services whose best endpoints are on
	// this node or this site (round robin, no session affinity): DNAT instead of the proxy.
	// It turns on IP forwarding, as kube-proxy needs too.
	FastPath bool `json:"fastPath"`
}

// TunnelConfig configures peer tunnels.
type TunnelConfig struct {
	// Enabled turns tunnels on (off: only same-site endpoints are reachable).
	Enabled bool `json:"enabled"`
	// ListenAddr is the UDP address of the agent's tunnel socket.
	ListenAddr string `json:"listenAddr"`
	// Relays are relay signalling addresses ("host:port").
	Relays []string `json:"relays,omitempty"`
	// CAFile, CertFile and KeyFile are the cluster CA and this node's identity.
	CAFile   string `json:"caFile"`
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// LANDiscovery finds same-LAN peers without a relay.
	LANDiscovery bool `json:"lanDiscovery"`
	// ExcludeCandidateCIDRs are node addresses never offered to peers for hole punching (e.g.
	// bridges of local pods); loopback and link-local addresses are never offered anyway.
	ExcludeCandidateCIDRs []string `json:"excludeCandidateCIDRs,omitempty"`
}

// NewDefaultConfig returns the configuration --defaultconfig prints.
func NewDefaultConfig() *Config {
	return &Config{
		APIVersion: ConfigAPIVersion,
		Kind:       ConfigKind,
		StateDir:   "/var/lib/outpost/edgemesh",
		HealthAddr: "127.0.0.1:10550",
		DNS: DNSConfig{
			Enabled:     true,
			Listen:      []string{"169.254.96.16:53"},
			NodeLocalIP: "169.254.96.16",
			Zone:        "cluster.local",
			TTL:         metav1.Duration{Duration: 5 * time.Second},
		},
		Proxy: ProxyConfig{
			Enabled:        true,
			ConnectTimeout: metav1.Duration{Duration: 2 * time.Second},
			Retries:        2,
			UDPIdleTimeout: metav1.Duration{Duration: 60 * time.Second},
			FastPath:       true,
		},
		Tunnel: TunnelConfig{
			Enabled:      true,
			ListenAddr:   "0.0.0.0:40400",
			CAFile:       "/etc/outpost/pki/ca.crt",
			CertFile:     "/etc/outpost/pki/node.crt",
			KeyFile:      "/etc/outpost/pki/node.key",
			LANDiscovery: true,
		},
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("edgemesh: invalid configuration")

// ParseConfig reads YAML on top of the defaults, strictly: unknown fields are errors.
func ParseConfig(b []byte) (*Config, error) {
	c := NewDefaultConfig()
	c.APIVersion, c.Kind = "", "" // the file must say what it is
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.APIVersion != ConfigAPIVersion || c.Kind != ConfigKind {
		return nil, fmt.Errorf("%w: want apiVersion %s kind %s, got %q %q", ErrConfig, ConfigAPIVersion, ConfigKind, c.APIVersion, c.Kind)
	}
	return c, c.Validate()
}

// Validate checks what a running agent needs.
func (c *Config) Validate() error {
	var errs []error
	if c.DNS.Enabled && len(c.DNS.Listen) == 0 {
		errs = append(errs, errors.New("dns.listen is empty"))
	}
	if c.Proxy.Retries < 0 {
		errs = append(errs, errors.New("proxy.retries is negative"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("stateDir is empty"))
	}
	for _, p := range c.Tunnel.ExcludeCandidateCIDRs {
		if _, err := netip.ParsePrefix(p); err != nil {
			errs = append(errs, fmt.Errorf("tunnel.excludeCandidateCIDRs: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// YAML renders the configuration.
func (c *Config) YAML() []byte {
	b, _ := yaml.Marshal(c)
	return bytes.TrimSpace(b)
}
