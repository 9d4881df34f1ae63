package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/transport/v4"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
)

// RelayConfig names one relay an agent registers with.
type RelayConfig struct {
	// Addr is the relay's signalling address ("host:port", TLS over TCP).
	Addr string
	// ServerName is the name the relay's certificate must carry. Default: Addr's host.
	ServerName string
}

// Options configure an Agent. Zero values take the defaults named on each field.
type Options struct {
	// NodeName is this agent's node; Cert must name it.
	NodeName string
	// Cert is the node identity (pki.NodeSpec) with its key, from the cluster CA.
	Cert tls.Certificate
	// Roots are the cluster CA certificates peers' and relays' certificates must chain to.
	Roots *x509.CertPool
	// ListenAddr is the UDP address of the agent's one socket (QUIC, ICE host/srflx candidates).
	// Default "0.0.0.0:0".
	ListenAddr string
	// Net opens every UDP socket: the agent socket, TURN client sockets, the LAN socket.
	// Default stdnet (real sockets); tests pass a pion vnet.
	Net transport.Net
	// PacketConn, if set, is the agent socket instead of opening ListenAddr through Net
	// (tests wrap a socket to drop or inject packets). The agent does not close it.
	PacketConn net.PacketConn
	// Relays are the relays to register with; the agent uses all of them and survives any
	// subset being down.
	Relays []RelayConfig
	// DialTCP opens signalling connections. Default: a net.Dialer.
	DialTCP func(ctx context.Context, network, addr string) (net.Conn, error)
	// DisableDirect turns off ICE hole punching: peers are reached only through relays (and
	// LAN discovery, if enabled).
	DisableDirect bool
	// IncludeLoopback offers loopback addresses as ICE host candidates and accepts the peer's
	// (single-host tests). Link-local addresses (169.254.0.0/16, fe80::/10) are never
	// candidates.
	IncludeLoopback bool
	// ExcludeCandidateCIDRs are further addresses never offered or accepted as ICE candidates,
	// e.g. node-local or container bridge ranges that exist on every node under the same
	// address, where a check would reach the sender's own host.
	ExcludeCandidateCIDRs []netip.Prefix
	// PunchTimeout bounds one ICE attempt (pion/ice never fails while checking). Default 5s.
	PunchTimeout time.Duration
	// PunchRetryMin and PunchRetryMax bound the exponential backoff between ICE attempts
	// while a peer is reachable only through a relay. Defaults 2s and 2m.
	PunchRetryMin, PunchRetryMax time.Duration
	// RelayRetryMin and RelayRetryMax bound the backoff of reconnecting to a relay.
	// Defaults 1s and 30s.
	RelayRetryMin, RelayRetryMax time.Duration
	// KeepAlivePeriod is QUIC's keepalive; keep it below NAT UDP timeouts (often 30s).
	// Default 10s.
	KeepAlivePeriod time.Duration
	// IdleTimeout closes a QUIC connection that heard nothing for this long. Default 30s.
	IdleTimeout time.Duration
	// DeadPathTimeout closes a connection that received nothing (not even the acknowledgment
	// of a keepalive) for this long, so new streams stop going into a dead path before the
	// idle timeout. Default 2×KeepAlivePeriod + 1s; it must exceed KeepAlivePeriod.
	DeadPathTimeout time.Duration
	// HandshakeTimeout bounds QUIC and signalling handshakes and reading a stream header.
	// Default 5s.
	HandshakeTimeout time.Duration
	// MaxStreamsPerPeer is how many concurrent streams a peer may open to us. Default 8192.
	MaxStreamsPerPeer int64
	// MaxHeaderSize bounds a stream header (at most 65535). Default 16 KiB.
	MaxHeaderSize int
	// AcceptQueue is how many accepted streams wait for Accept before new ones are refused.
	// Default 1024.
	AcceptQueue int
	// DatagramQueue is how many received datagrams wait for ReceiveDatagram before new ones
	// are dropped. Default 1024.
	DatagramQueue int
	// LAN enables LAN discovery when non-nil.
	LAN *LANOptions
	// Logger receives the agent's logs. Default klog.Background().
	Logger klog.Logger
	// Registerer receives the agent's metrics; nil means none are registered.
	Registerer prometheus.Registerer
}

// LANOptions configure LAN discovery: signed announcements by UDP broadcast so that agents
// on one LAN connect host to host without any relay.
type LANOptions struct {
	// Port is the UDP port announcements are sent to and received on. Default 51820+1 (51821).
	Port int
	// Interval between announcements. Default 5s.
	Interval time.Duration
	// MaxAge is how old (or how far in the future) an announcement's timestamp may be. Default 30s.
	MaxAge time.Duration
	// Conn, if set, is the announcement socket instead of a broadcast socket on Port opened
	// through Options.Net (tests use loopback or vnet sockets). The agent closes it on Close.
	Conn net.PacketConn
	// Targets are where announcements go. Default: the broadcast address of every IPv4
	// broadcast interface that Options.Net lists (except /31 and /32), on Port.
	Targets []net.Addr
}

func (o *Options) setDefaults() error {
	if o.NodeName == "" || len(o.Cert.Certificate) == 0 || o.Roots == nil {
		return errors.New("tunnel: NodeName, Cert and Roots are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.ListenAddr == "" {
		o.ListenAddr = "0.0.0.0:0"
	}
	def(&o.PunchTimeout, 5*time.Second)
	def(&o.PunchRetryMin, 2*time.Second)
	def(&o.PunchRetryMax, 2*time.Minute)
	def(&o.RelayRetryMin, time.Second)
	def(&o.RelayRetryMax, 30*time.Second)
	def(&o.KeepAlivePeriod, 10*time.Second)
	def(&o.IdleTimeout, 30*time.Second)
	def(&o.HandshakeTimeout, 5*time.Second)
	def(&o.DeadPathTimeout, 2*o.KeepAlivePeriod+time.Second)
	if o.DeadPathTimeout <= o.KeepAlivePeriod {
		return errors.New("tunnel: DeadPathTimeout must exceed KeepAlivePeriod")
	}
	if o.MaxStreamsPerPeer == 0 {
		o.MaxStreamsPerPeer = 8192
	}
	if o.MaxHeaderSize == 0 {
		o.MaxHeaderSize = 16 << 10
	}
	if o.MaxHeaderSize > 0xffff {
		o.MaxHeaderSize = 0xffff
	}
	if o.AcceptQueue == 0 {
		o.AcceptQueue = 1024
	}
	if o.DatagramQueue == 0 {
		o.DatagramQueue = 1024
	}
	if o.DialTCP == nil {
		var d net.Dialer
		o.DialTCP = d.DialContext
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if l := o.LAN; l != nil {
		if l.Port == 0 {
			l.Port = 51821
		}
		def(&l.Interval, 5*time.Second)
		def(&l.MaxAge, 30*time.Second)
	}
	return nil
}
