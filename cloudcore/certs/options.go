package certs

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/pki"
)

// Defaults applied by [Options.Default].
const (
	DefaultCertValidity = 365 * 24 * time.Hour
	DefaultMaxBodyBytes = 64 << 10
)

// Options configures a join [Server]. The zero value of a field means its default.
type Options struct {
	// Client reaches the kube-apiserver (tokens, Nodes). Required.
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
	}
	return nil
}
