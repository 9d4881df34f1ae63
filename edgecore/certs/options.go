package certs

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

// Defaults applied by [Options.Default].
const (
	DefaultInitialBackoff = 5 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultTimeout        = enroll.DefaultClientTimeout
)

// Renewal window, as fractions of the certificate's lifetime.
const (
	renewFrom = 0.7
	renewTo   = 0.9
)

// RenewFunc asks the cloud for a new certificate of current's node; enroll.Renew is one.
type RenewFunc func(ctx context.Context, endpoint string, roots *x509.CertPool, current *pki.KeyPair, timeout time.Duration) (*enroll.Credentials, error)

// Options configures a [Rotator]. The zero value of a field means its default.
type Options struct {
	// NodeName is this node; every certificate used must name it. Required.
	NodeName string
	// CAFile is the cluster CA (PEM): the only root the node trusts. Required.
	CAFile string
	// CertFile and KeyFile hold the node certificate and key (PEM); renewals replace them.
	// Required.
	CertFile, KeyFile string
	// Endpoint is cloudcore's join endpoint ("host:port" or "https://host:port"), where
	// renewals go. Empty: the certificate is served but never renewed (logged at Run).
	Endpoint string
	// Renew asks for a new certificate. Default enroll.Renew.
	Renew RenewFunc
	// Timeout bounds one renewal request. Default 30 s.
	Timeout time.Duration
	// InitialBackoff is the delay before retrying a failed renewal; it doubles on each failure
	// up to MaxBackoff, jittered between half and all of it. Defaults 5 s and 5 min.
	InitialBackoff, MaxBackoff time.Duration
	// Clock is the time source of schedules and validity checks. Default the real clock.
	Clock clock.Clock
	// Jitter returns a number in [0, 1) that places the renewal in the 70%..90% window and
	// spreads backoffs. Default math/rand.
	Jitter func() float64
	// Registerer receives outpost_edgecore_cert_* metrics. Nil means none.
	Registerer prometheus.Registerer
	// Logger receives the rotator's logs. Default klog.Background().
	Logger klog.Logger
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Renew == nil {
		o.Renew = enroll.Renew
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.InitialBackoff == 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	return o
}

func (o Options) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidOptions, why) }
	switch {
	case o.NodeName == "":
		return bad("no NodeName")
	case o.CAFile == "" || o.CertFile == "" || o.KeyFile == "":
		return bad("CAFile, CertFile and KeyFile are required")
	case o.Timeout < 0 || o.InitialBackoff <= 0 || o.MaxBackoff < o.InitialBackoff:
		return bad("need Timeout >= 0 and 0 < InitialBackoff <= MaxBackoff")
	}
	return nil
}
