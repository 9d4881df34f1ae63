package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The type of a CloudCoreConfig document.
const (
	apiVersion = "outpost.dev/v1alpha1"
	kind       = "CloudCoreConfig"
)

// errInvalidConfig reports a configuration that cannot work.
var errInvalidConfig = errors.New("invalid CloudCoreConfig")

// Config is cloudcore's versioned configuration (--config).
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Kubeconfig reaches the kube-apiserver; empty: $KUBECONFIG, ~/.kube/config, in-cluster.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// PublicAddresses are the DNS names and IPs edges dial cloudcore at: the SANs of the hub's
	// and the join endpoint's serving certificates. The first one forms the hub URL handed to
	// joining nodes. At least one is required.
	PublicAddresses []string `json:"publicAddresses"`
	// Hub is the websocket server edges keep their session with.
	Hub HubConfig `json:"hub"`
	// Join is the HTTPS join endpoint (GET /ca, POST /join, POST /renew).
	Join JoinConfig `json:"join"`
	// EdgeController decides what each edge node holds and writes its status back.
	EdgeController EdgeControllerConfig `json:"edgeController"`
	// HealthAddr serves /metrics, /livez and /readyz (plain HTTP); empty disables.
	HealthAddr string `json:"healthAddr,omitempty"`
}

// HubConfig configures the hub.
type HubConfig struct {
	// Addr is the listen address. Default ":10000".
	Addr string `json:"addr"`
	// PingPeriod is the interval of websocket pings to edges (default 15 s); PongTimeout closes
	// a session silent for that long (default 45 s): how soon a cut edge is seen disconnected.
	PingPeriod  metav1.Duration `json:"pingPeriod"`
	PongTimeout metav1.Duration `json:"pongTimeout"`
}

// JoinConfig configures the join endpoint.
type JoinConfig struct {
	// Addr is the listen address. Default ":10002".
	Addr string `json:"addr"`
	// CertValidity is the lifetime of node certificates. Default one year.
	CertValidity metav1.Duration `json:"certValidity"`
}

// EdgeControllerConfig configures the edge controller.
type EdgeControllerConfig struct {
	// Workers is the number of sync workers per queue. Default 2.
	Workers int `json:"workers"`
	// GracePeriod is how long an edge node may be disconnected before its Ready condition
	// becomes Unknown. Default 40 s.
	GracePeriod metav1.Duration `json:"gracePeriod"`
}

// newDefaultConfig is the configuration --defaultconfig prints.
func newDefaultConfig() *Config {
	return &Config{
		APIVersion:      apiVersion,
		Kind:            kind,
		PublicAddresses: []string{},
		Hub: HubConfig{
			Addr:        ":10000",
			PingPeriod:  metav1.Duration{Duration: 15 * time.Second},
			PongTimeout: metav1.Duration{Duration: 45 * time.Second},
		},
		Join:           JoinConfig{Addr: ":10002", CertValidity: metav1.Duration{Duration: 365 * 24 * time.Hour}},
		EdgeController: EdgeControllerConfig{Workers: 2, GracePeriod: metav1.Duration{Duration: 40 * time.Second}},
		HealthAddr:     ":10005",
	}
}

// loadConfig reads path strictly over the defaults and validates it.
func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(b)
}

func parseConfig(b []byte) (*Config, error) {
	c := newDefaultConfig()
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidConfig, err)
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{errInvalidConfig}, a...)...)
	}
	if c.APIVersion != apiVersion || c.Kind != kind {
		return bad("apiVersion/kind %s/%s, want %s/%s", c.APIVersion, c.Kind, apiVersion, kind)
	}
	if len(c.PublicAddresses) == 0 {
		return bad("publicAddresses: name at least one address edges dial cloudcore at")
	}
	for name, addr := range map[string]string{"hub.addr": c.Hub.Addr, "join.addr": c.Join.Addr, "healthAddr": c.HealthAddr} {
		if addr == "" && name == "healthAddr" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad("%s %q: %v", name, addr, err)
		}
	}
	if c.Hub.PongTimeout.Duration <= c.Hub.PingPeriod.Duration || c.Hub.PingPeriod.Duration <= 0 {
		return bad("hub.pongTimeout %v must be above hub.pingPeriod %v > 0", c.Hub.PongTimeout.Duration, c.Hub.PingPeriod.Duration)
	}
	if c.EdgeController.Workers < 1 || c.EdgeController.GracePeriod.Duration <= 0 || c.Join.CertValidity.Duration <= 0 {
		return bad("edgeController.workers, edgeController.gracePeriod and join.certValidity must be positive")
	}
	return nil
}

// hubURL is the URL joined nodes dial: the first public address and the hub's port.
func (c *Config) hubURL() string {
	_, port, _ := net.SplitHostPort(c.Hub.Addr)
	if _, err := strconv.Atoi(port); err != nil || port == "0" {
		port = "10000"
	}
	return "wss://" + net.JoinHostPort(c.PublicAddresses[0], port) + "/hub"
}
