package relay

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"github.com/pion/transport/v4"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
)

// Options configure a relay Server.
type Options struct {
	// ID names this relay to agents (Welcome.RelayID); agents configured with several relays
	// tell them apart by it. Default: the TURN address.
	ID string
	// SignalAddr is the TCP address of the TLS signalling listener. Default ":3479".
	SignalAddr string
	// TURNAddr is the UDP address of the STUN/TURN server. Default ":3478".
	TURNAddr string
	// PublicIP is the address agents reach TURNAddr's port and the relayed ports at; it goes into
	// Welcome.TURNAddr and into relayed addresses. Default: TURNAddr's IP if it is specific.
	PublicIP net.IP
	// RelayBindIP is the local IP relayed sockets bind to. Default: TURNAddr's IP, else 0.0.0.0.
	RelayBindIP net.IP
	// Cert is the relay's serving certificate, signed by the cluster CA.
	Cert tls.Certificate
	// Roots are the cluster CA certificates that agents' node certificates must chain to.
	Roots *x509.CertPool
	// Realm is the TURN realm. Default "outpost".
	Realm string
	// TURNSecret is the HMAC key of TURN REST-API credentials. Default: random per process,
	// which is right for a single relay process (credentials are only handed out by it).
	TURNSecret []byte
	// CredentialTTL is how long handed-out TURN credentials are valid. Default 24h; agents
	// reconnect their signalling session (and get new credentials) before expiry.
	CredentialTTL time.Duration
	// AllowExternalPeers lets TURN allocations send to any address. By default an allocation may
	// only talk to other allocations on this relay (PublicIP), which is all agents need, so
	// the relay cannot be abused as an open UDP proxy.
	AllowExternalPeers bool
	// SignalRate and SignalBurst bound the signals one session may send per second (token
	// bucket); signals beyond it are answered with an error frame and dropped, the session
	// stays. Defaults 200/s and 400 (an ICE exchange is about a dozen signals).
	SignalRate  float64
	SignalBurst int
	// MaxFrameSize bounds a signalling frame's payload. Default DefaultMaxFrameSize.
	MaxFrameSize int
	// HandshakeTimeout bounds the TLS handshake of a signalling session. Default 10s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a signalling session that sent nothing for this long. Default 60s.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one frame to a session. Default 10s.
	WriteTimeout time.Duration
	// Net opens the TURN socket and relayed sockets (stdnet in production, vnet in tests).
	// Default stdnet.
	Net transport.Net
	// SignalListener, if set, is used instead of listening on SignalAddr (tests).
	SignalListener net.Listener
	// TURNConn, if set, is used instead of opening TURNAddr through Net.
	TURNConn net.PacketConn
	// Logger receives the relay's logs. Default klog.Background().
	Logger klog.Logger
	// Registerer receives the relay's metrics; nil means no metrics are registered.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.SignalAddr == "" {
		o.SignalAddr = ":3479"
	}
	if o.TURNAddr == "" {
		o.TURNAddr = ":3478"
	}
	if o.Realm == "" {
		o.Realm = "outpost"
	}
	if o.CredentialTTL == 0 {
		o.CredentialTTL = 24 * time.Hour
	}
	if o.SignalRate == 0 {
		o.SignalRate = 200
	}
	if o.SignalBurst == 0 {
		o.SignalBurst = 400
	}
	if o.MaxFrameSize == 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
}
