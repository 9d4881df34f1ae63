package satoken

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/outpostmesh/outpost/enroll"
)

// Defaults applied by [Options.Default].
const (
	// DefaultMaxAge is the age after which a token is refreshed however long it lives (the
	// kubelet's 24 h).
	DefaultMaxAge  = 24 * time.Hour
	DefaultTimeout = 10 * time.Second
	// refreshAt is the fraction of a token's lifetime after which it is refreshed.
	refreshAt = 0.8
)

var (
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("satoken: invalid options")
	// ErrInvalidRequest is a Token call with a missing pod, UID or service account name.
	ErrInvalidRequest = errors.New("satoken: invalid token request")
	// ErrUnavailable is a token that could not be fetched and has no valid cached copy.
	ErrUnavailable = errors.New("satoken: no valid token")
)

// RequestFunc asks the cloud for a token; enroll.RequestServiceAccountToken is one.
type RequestFunc func(ctx context.Context, endpoint string, tlsCfg *tls.Config, req enroll.ServiceAccountTokenRequest, timeout time.Duration) (*enroll.ServiceAccountTokenResponse, error)

// Options configures a [Manager]. The zero value of a field means its default.
type Options struct {
	// Dir holds the cached tokens, one 0600 file per pod and request (created 0700).
	// Required.
	Dir string
	// Endpoint is cloudcore's join endpoint ("host:port"); empty: only cached tokens are
	// served.
	Endpoint string
	// TLSConfig trusts the cluster CA and presents the node certificate (a rotating
	// GetClientCertificate, see edgecore/certs). Required.
	TLSConfig *tls.Config
	// Request asks the cloud for a token. Default enroll.RequestServiceAccountToken.
	Request RequestFunc
	// Timeout bounds one request to the cloud. Default 10 s.
	Timeout time.Duration
	// MaxAge refreshes tokens older than this even if they live longer. Default 24 h.
	MaxAge time.Duration
	// Clock is the time source. Default the real clock.
	Clock clock.PassiveClock
	// Registerer receives outpost_edgecore_satoken_* metrics. Nil means none.
	Registerer prometheus.Registerer
	// Logger receives the manager's logs. Default klog.Background().
	Logger klog.Logger
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Request == nil {
		o.Request = enroll.RequestServiceAccountToken
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Dir == "":
		return fmt.Errorf("%w: no Dir", ErrInvalidOptions)
	case o.TLSConfig == nil:
		return fmt.Errorf("%w: no TLSConfig", ErrInvalidOptions)
	case o.Timeout < 0 || o.MaxAge < 0:
		return fmt.Errorf("%w: negative Timeout or MaxAge", ErrInvalidOptions)
	}
	return nil
}
