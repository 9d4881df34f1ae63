// Package config is edgecore's versioned configuration file (apiVersion outpost.dev/v1alpha1,
// kind EdgeCoreConfig): written by `outpost join`, read by cmd/edgecore.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The type of an EdgeCoreConfig document.
const (
	APIVersion = "outpost.dev/v1alpha1"
	Kind       = "EdgeCoreConfig"
)

// Defaults of NewDefault.
const (
	DefaultDir            = "/etc/outpost"
	DefaultDataDir        = "/var/lib/outpost"
	DefaultMetaServerAddr = "127.0.0.1:10350"
	DefaultHealthAddr     = "127.0.0.1:10351"
	// DefaultKubeconfigName is the metaserver kubeconfig's name under the data directory.
	DefaultKubeconfigName = "metaserver.kubeconfig"
	// FileName is the configuration's name under the configuration directory.
	FileName = "edgecore.yaml"
)

// ErrInvalid reports a configuration that cannot work.
var ErrInvalid = errors.New("config: invalid EdgeCoreConfig")

// EdgeCoreConfig configures edgecore on one edge node.
type EdgeCoreConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// NodeName is this node's name; it must match the node certificate.
	NodeName string `json:"nodeName"`
	// Hub says how to reach cloudcore's hub.
	Hub Hub `json:"hub"`
	// MetaStore is the local SQLite store of everything the cloud sent.
	MetaStore MetaStore `json:"metaStore"`
	// MetaServer serves the store as a Kubernetes API on loopback.
	MetaServer MetaServer `json:"metaServer"`
	// NodeStatus says how edgecore reports the node's status and lease (node.go).
	NodeStatus NodeStatus `json:"nodeStatus,omitzero"`
	// Edged runs the node's pods through CRI (edged.go); disabled by default.
	Edged Edged `json:"edged,omitzero"`
	// HealthAddr serves /metrics, /livez and /readyz (plain HTTP); empty disables.
	HealthAddr string `json:"healthAddr,omitempty"`
}

// Hub is the connection to cloudcore.
type Hub struct {
	// URL is the hub's websocket URL, wss://host:port/path.
	URL string `json:"url"`
	// CAFile is the cluster CA certificate (PEM), the only root the edge trusts.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile are the node certificate and key (PEM).
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// JoinEndpoint is cloudcore's join endpoint (host:port), used to renew the certificate.
	JoinEndpoint string `json:"joinEndpoint,omitempty"`
	// KeepAliveInterval, ReadIdleTimeout and MaxBackoff tune the session (hubclient.Options);
	// zero means the hub client's defaults (30 s, 90 s, 60 s).
	KeepAliveInterval metav1.Duration `json:"keepAliveInterval,omitzero"`
	ReadIdleTimeout   metav1.Duration `json:"readIdleTimeout,omitzero"`
	MaxBackoff        metav1.Duration `json:"maxBackoff,omitzero"`
}

// MetaStore configures the meta store.
type MetaStore struct {
	// Path is the SQLite database file.
	Path string `json:"path"`
}

// MetaServer configures the local API server.
type MetaServer struct {
	// Addr is the listen address; keep it on loopback.
	Addr string `json:"addr"`
	// Kubeconfig is where edgecore writes a kubeconfig for local clients (the mesh agent)
	// pointing at the metaserver over plain HTTP; empty writes none.
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// NewDefault returns the configuration with the default paths under DefaultDir and
// DefaultDataDir; NodeName and Hub.URL are left for `outpost join` to fill.
func NewDefault() *EdgeCoreConfig { return ForDirs(DefaultDir, DefaultDataDir) }

// ForDirs returns the default configuration with certificates under dir/pki and the database
// under dataDir.
func ForDirs(dir, dataDir string) *EdgeCoreConfig {
	pki := filepath.Join(dir, "pki")
	return &EdgeCoreConfig{
		APIVersion: APIVersion,
		Kind:       Kind,
		Hub: Hub{
			CAFile:   filepath.Join(pki, "ca.crt"),
			CertFile: filepath.Join(pki, "node.crt"),
			KeyFile:  filepath.Join(pki, "node.key"),
		},
		MetaStore:  MetaStore{Path: filepath.Join(dataDir, "meta.db")},
		MetaServer: MetaServer{Addr: DefaultMetaServerAddr, Kubeconfig: filepath.Join(dataDir, DefaultKubeconfigName)},
		NodeStatus: DefaultNodeStatus(),
		Edged:      DefaultEdged(),
		HealthAddr: DefaultHealthAddr,
	}
}

// Validate checks that the configuration can work.
func (c *EdgeCoreConfig) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
	switch {
	case c.APIVersion != APIVersion || c.Kind != Kind:
		return bad("apiVersion/kind %s/%s, want %s/%s", c.APIVersion, c.Kind, APIVersion, Kind)
	case c.NodeName == "":
		return bad("no nodeName")
	case c.Hub.CAFile == "" || c.Hub.CertFile == "" || c.Hub.KeyFile == "":
		return bad("hub.caFile, hub.certFile and hub.keyFile are required")
	case c.MetaStore.Path == "":
		return bad("no metaStore.path")
	}
	if u, err := url.Parse(c.Hub.URL); err != nil || u.Scheme != "wss" || u.Host == "" {
		return bad("hub.url %q is not wss://host[:port]/path", c.Hub.URL)
	}
	if _, _, err := net.SplitHostPort(c.MetaServer.Addr); err != nil {
		return bad("metaServer.addr %q: %v", c.MetaServer.Addr, err)
	}
	if c.HealthAddr != "" {
		if _, _, err := net.SplitHostPort(c.HealthAddr); err != nil {
			return bad("healthAddr %q: %v", c.HealthAddr, err)
		}
	}
	if err := c.Edged.validate(bad); err != nil {
		return err
	}
	return c.NodeStatus.validate(bad)
}

// Marshal returns the configuration as YAML.
func (c *EdgeCoreConfig) Marshal() ([]byte, error) { return yaml.Marshal(c) }

// Parse reads YAML strictly (unknown fields are errors) and validates it.
func Parse(b []byte) (*EdgeCoreConfig, error) {
	var c EdgeCoreConfig
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c.NodeStatus.defaults() // files written before nodeStatus existed
	c.Edged.defaults()      // and before edged existed
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads and validates the file at path.
func Load(path string) (*EdgeCoreConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}
