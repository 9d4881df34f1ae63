package certs

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/pki"
)

// Defaults applied by [Options.Default].
const (
	DefaultCertValidity = 365 * 24 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
	// DefaultTokenRate and DefaultTokenBurst bound each node's service account token
	// requests: the edge caches tokens and refreshes them at 80% of their life, so a node
	// asks in bursts only when many pods start at once.
	DefaultTokenRate  = 5
	DefaultTokenBurst = 50
)

// Options configures a join [Server]. The zero value of a field means its default.
type Options struct {
	// Client reaches the kube-apiserver (bootstrap tokens, Nodes, Pods, TokenRequests).
	// Required.
	Client kubernetes.Interface
	// CA signs node certificates. Required (see LoadOrCreateCA).
	CA *pki.CA
	// HubURL is returned to joined nodes: where edgecore dials the hub, e.g.
	// "wss://cloud.example:10000/hub". Required.
	HubURL string
	// CertValidity is the lifetime of node certificates. Default one year.
	CertValidity time.Duration
	// MaxBodyBytes bounds a request body. Default 64 KiB.
	MaxBodyBytes int64
	// TokenRate is the sustained rate (per second) of service account token requests a node
	// may make, TokenBurst the burst above it. Defaults 5 and 50.
	TokenRate  float64
	TokenBurst int
	// Registerer receives the server's metrics (outpost_cloudcore_certs_*). Nil means none.
	Registerer prometheus.Registerer
	// Logger receives the server's logs. Default klog.Background().
	Logger klog.Logger
	// Now is the clock (token expiry, certificate validity). Default time.Now.
	Now func() time.Time
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.CertValidity == 0 {
		o.CertValidity = DefaultCertValidity
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.TokenRate == 0 {
		o.TokenRate = DefaultTokenRate
	}
	if o.TokenBurst == 0 {
		o.TokenBurst = DefaultTokenBurst
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Client == nil:
		return fmt.Errorf("%w: no Client", ErrInvalidOptions)
	case o.CA == nil:
		return fmt.Errorf("%w: no CA", ErrInvalidOptions)
	case o.HubURL == "":
		return fmt.Errorf("%w: no HubURL", ErrInvalidOptions)
	case o.CertValidity < 0 || o.MaxBodyBytes < 0:
		return fmt.Errorf("%w: negative CertValidity or MaxBodyBytes", ErrInvalidOptions)
	case o.TokenRate < 0 || o.TokenBurst < 0:
		return fmt.Errorf("%w: negative TokenRate or TokenBurst", ErrInvalidOptions)
	}
	return nil
}
