package main

import (
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Config is the relay's versioned configuration (--config); flags set on the command line
// override it.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// ID names the relay to agents. Default: the public TURN address.
	ID string `json:"id,omitempty"`
	// SignalAddr is the TLS signalling listener (TCP).
	SignalAddr string `json:"signalAddr"`
	// TURNAddr is the STUN/TURN listener (UDP).
	TURNAddr string `json:"turnAddr"`
	// PublicIP is the address agents reach TURN and relayed ports at.
	PublicIP string `json:"publicIP,omitempty"`
	// RelayBindIP is the local address relayed sockets bind to.
	RelayBindIP string `json:"relayBindIP,omitempty"`
	// CAFile, CertFile and KeyFile are PEM files: the cluster CA certificate (agents'
	// certificates must chain to it) and the relay's serving certificate and key.
	CAFile   string `json:"caFile"`
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// Realm is the TURN realm.
	Realm string `json:"realm"`
	// CredentialTTL is the lifetime of TURN credentials handed to agents.
	CredentialTTL metav1.Duration `json:"credentialTTL"`
	// AllowExternalPeers lets TURN allocations send to any address, not only to other
	// allocations on this relay.
	AllowExternalPeers bool `json:"allowExternalPeers,omitempty"`
	// MetricsAddr serves /metrics, /livez and /readyz (HTTP); empty disables.
	MetricsAddr string `json:"metricsAddr"`
}

const (
	apiVersion = "outpost.dev/v1alpha1"
	kind       = "RelayConfiguration"
)

// NewDefaultConfig is the configuration --defaultconfig prints.
func NewDefaultConfig() *Config {
	return &Config{
		APIVersion:    apiVersion,
		Kind:          kind,
		SignalAddr:    ":3479",
		TURNAddr:      ":3478",
		CAFile:        "/etc/outpost/pki/ca.crt",
		CertFile:      "/etc/outpost/pki/relay.crt",
		KeyFile:       "/etc/outpost/pki/relay.key",
		Realm:         "outpost",
		CredentialTTL: metav1.Duration{Duration: 24 * time.Hour},
		MetricsAddr:   ":9479",
	}
}

func loadConfig(path string, into *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	if into.APIVersion != apiVersion || into.Kind != kind {
		return fmt.Errorf("config %s: want apiVersion %s kind %s, got %q %q", path, apiVersion, kind, into.APIVersion, into.Kind)
	}
	return nil
}
