package hub

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/hubproto"
)

// Options configure a Hub. Zero values take the defaults named on each field.
type Options struct {
	// Certificate is the hub's serving certificate. Required.
	Certificate tls.Certificate
	// ClientCAs verify the edges' client certificates (the cluster CA). Required.
	ClientCAs *x509.CertPool
	// Handler receives session events (the edge controller). Required.
	Handler Handler
	// Logger logs session events; default klog.Background().
	Logger klog.Logger
	// Registerer registers the hub's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Path is the HTTP path of the websocket endpoint; default "/hub".
	Path string
	// Window is the number of unacknowledged sync batches per node; default hubproto.Window.
	Window int
	// MaxFrameSize bounds control frames both ways; default hubproto.MaxFrameSize.
	MaxFrameSize int
	// PingPeriod is the interval of websocket pings; default 15 s.
	PingPeriod time.Duration
	// PongTimeout closes a session that has sent nothing (no pong, no data) for this long;
	// default 45 s. It must be above PingPeriod.
	PongTimeout time.Duration
	// HelloTimeout bounds the time from TLS handshake to a valid Hello; default 10 s.
	HelloTimeout time.Duration
	// WriteTimeout closes a session whose peer does not take a frame for this long; default 10 s.
	WriteTimeout time.Duration
}

// withDefaults checks o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if len(o.Certificate.Certificate) == 0 || o.ClientCAs == nil || o.Handler == nil {
		return o, fmt.Errorf("%w: Certificate, ClientCAs and Handler are required", ErrBadOptions)
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PingPeriod, 15*time.Second)
	def(&o.PongTimeout, 45*time.Second)
	def(&o.HelloTimeout, 10*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	if o.PongTimeout <= o.PingPeriod {
		return o, fmt.Errorf("%w: PongTimeout %v must be above PingPeriod %v", ErrBadOptions, o.PongTimeout, o.PingPeriod)
	}
	if o.Window <= 0 {
		o.Window = hubproto.Window
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = hubproto.MaxFrameSize
	}
	if o.Path == "" {
		o.Path = "/hub"
	}
	return o, nil
}
