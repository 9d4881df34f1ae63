package hubclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
)

// Defaults applied by [Options.Default].
const (
	DefaultInitialBackoff    = time.Second
	DefaultMaxBackoff        = 60 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultKeepAliveInterval = 30 * time.Second
	DefaultReadIdleTimeout   = 90 * time.Second
	DefaultMaxPendingStatus  = 5000
	DefaultMaxStatusBatch    = 100
)

// Store is what the client needs of the meta store; *metastore.Store is one.
type Store interface {
	// Versions is the inventory sent in hello.
	Versions(ctx context.Context) (map[metastore.Key]string, error)
	// Apply applies one batch in one transaction.
	Apply(ctx context.Context, changes []metastore.Change) (int, error)
}

// Options configures a [Client]. The zero value of a field means its default.
type Options struct {
	// HubURL is the hub's websocket URL, "wss://host:port/path". Required.
	HubURL string
	// NodeName is sent in hello; it must match the client certificate. Required.
	NodeName string
	// TLSConfig holds the node's client certificate (Certificates or GetClientCertificate) and
	// the cluster CA (RootCAs). Required; see LoadTLSConfig.
	TLSConfig *tls.Config
	// Store receives sync batches and provides the inventory. Required.
	Store Store
	// StreamHandler serves each stream the cloud opens after the control stream, in its own
	// goroutine; it must return once the stream is closed (the session closes its streams when
	// it ends). Default: close the stream at once.
	StreamHandler func(net.Conn)
	// Logger receives the client's logs. Default klog.Background().
	Logger klog.Logger
	// NetDialContext opens the TCP connection to the hub. Default net.Dialer.DialContext.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// InitialBackoff is the first delay before re-dialling; it doubles on each failure up to
	// MaxBackoff and resets after a session in which the cloud answered. Delays are jittered
	// (between half and all of the current value). Defaults 1s and 60s.
	InitialBackoff, MaxBackoff time.Duration
	// HandshakeTimeout bounds the TLS and websocket handshakes. Default 10s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds writing one control frame. Default 10s.
	WriteTimeout time.Duration
	// KeepAliveInterval is the yamux keepalive period. Default 30s.
	KeepAliveInterval time.Duration
	// ReadIdleTimeout closes a session that received nothing (data, pings, keepalive answers)
	// for this long. Default 90s.
	ReadIdleTimeout time.Duration
	// MaxFrameSize bounds a control frame from the cloud. Default hubproto.MaxFrameSize.
	MaxFrameSize int
	// MaxPendingStatus bounds the distinct objects with a queued, unsent status. Default 5000.
	MaxPendingStatus int
	// MaxStatusBatch bounds the updates in one TypeStatus frame. Default 100.
	MaxStatusBatch int
	// StatusWindow bounds the unacknowledged TypeStatus frames. Default hubproto.Window.
	StatusWindow int
	// Registerer receives the client's metrics (outpost_hubclient_*); unregistered by Close.
	// Nil means no metrics.
	Registerer prometheus.Registerer
}

// Default returns a copy of o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if o.StreamHandler == nil {
		o.StreamHandler = func(c net.Conn) { c.Close() }
	}
	if o.NetDialContext == nil {
		o.NetDialContext = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.InitialBackoff, DefaultInitialBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.KeepAliveInterval, DefaultKeepAliveInterval)
	def(&o.ReadIdleTimeout, DefaultReadIdleTimeout)
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	defInt(&o.MaxFrameSize, hubproto.MaxFrameSize)
	defInt(&o.MaxPendingStatus, DefaultMaxPendingStatus)
	defInt(&o.MaxStatusBatch, DefaultMaxStatusBatch)
	defInt(&o.StatusWindow, hubproto.Window)
	return o
}

func (o Options) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidOptions, why) }
	switch {
	case o.HubURL == "":
		return bad("no HubURL")
	case o.NodeName == "":
		return bad("no NodeName")
	case o.TLSConfig == nil:
		return bad("no TLSConfig")
	case o.Store == nil:
		return bad("no Store")
	case o.InitialBackoff < 0 || o.MaxBackoff < o.InitialBackoff:
		return bad("backoff must satisfy 0 < InitialBackoff <= MaxBackoff")
	case o.MaxPendingStatus < 1 || o.MaxStatusBatch < 1 || o.StatusWindow < 1 || o.MaxFrameSize < 1:
		return bad("MaxPendingStatus, MaxStatusBatch, StatusWindow and MaxFrameSize must be positive")
	}
	u, err := url.Parse(o.HubURL)
	if err != nil || u.Scheme != "wss" || u.Host == "" {
		return bad(fmt.Sprintf("HubURL %q is not wss://host[:port]/path", o.HubURL))
	}
	return nil
}
