package proxy

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// DialFunc connects to port on endpoint ep. For view.UDP the returned conn is
// datagram-oriented: each Write sends one datagram and each Read returns one.
type DialFunc func(ctx context.Context, ep view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error)

// PacketConn is the part of *net.UDPConn a UDP proxy socket needs; the AddrPort methods do
// not allocate per datagram.
type PacketConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() net.Addr
	Close() error
}

// Options configure a Proxy. Zero fields take the values of Default().
type Options struct {
	// ListenIP is the address the proxy sockets bind. The zero value binds the unspecified
	// address of both families (a dual-stack socket), which is what REDIRECT needs: in
	// PREROUTING the kernel rewrites the destination to the primary address of the incoming
	// interface (for pods: the CNI bridge's address), in OUTPUT to 127.0.0.1 (or ::1). A
	// specific address (127.0.0.1 in tests) only works for traffic redirected to it. Note the
	// proxy ports are then reachable on every node address, like NodePorts: filter them if
	// that matters.
	ListenIP netip.Addr
	// PortMin and PortMax bound the proxy ports (inclusive). Both zero: the kernel picks an
	// ephemeral port for each socket.
	PortMin, PortMax uint16
	// NodeName is this node's name: endpoints on it are preferred.
	NodeName string
	// Site is this node's site: endpoints on nodes of the same site come next. Empty: SiteOf(NodeName),
	// asked at every Sync (the node's label may arrive after the proxy starts).
	Site string
	// SiteOf returns the site of a node ("" if unknown). Nil: every node is in Site.
	SiteOf func(node string) string
	// FastPath fills Redirect.Direct, so that connections to services whose best endpoints
	// this node's kernel reaches (same node, same site) skip the proxy: the rules DNAT them.
	// Those connections get no retries, ejection or proxy metrics; readiness still applies,
	// since the endpoint set follows the EndpointSlices.
	FastPath bool
	// Dial connects to an endpoint. Default: a net.Dialer to ep.IP:port.
	Dial DialFunc
	// ListenTCP opens a TCP proxy socket. Default: net.ListenTCP. Return a *net.TCPListener
	// to keep the splice fast path.
	ListenTCP func(addr netip.AddrPort) (net.Listener, error)
	// ListenUDP opens a UDP proxy socket. Default: net.ListenUDP.
	ListenUDP func(addr netip.AddrPort) (PacketConn, error)
	// ConnectTimeout bounds one connect attempt to one endpoint. Default 2 s.
	ConnectTimeout time.Duration
	// Retries is how many other endpoints are tried after a failed connect. 0 means the
	// default (2); negative means no retry.
	Retries int
	// EjectAfter is the number of consecutive connect failures that eject an endpoint.
	// 0 means the default (3); negative disables ejection.
	EjectAfter int
	// EjectBase is the first ejection's duration; each further ejection without a quiet
	// period doubles it, up to EjectMax. Default 10 s.
	EjectBase time.Duration
	// EjectMax caps the ejection duration. Default 5 min.
	EjectMax time.Duration
	// DefaultAffinityTimeout applies to services with session affinity and no timeout.
	// Default 10800 s, as Kubernetes.
	DefaultAffinityTimeout time.Duration
	// TCPIdleTimeout closes a TCP connection with no traffic either way for that long.
	// 0 (the default): never.
	TCPIdleTimeout time.Duration
	// UDPIdleTimeout closes a UDP flow with no traffic either way for that long. Default 60 s.
	UDPIdleTimeout time.Duration
	// MaxUDPFlows bounds the flows of one UDP service port; datagrams from new clients
	// beyond it are dropped. Default 1024.
	MaxUDPFlows int
	// Registerer receives the proxy's metrics. Nil: metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Logger logs listener and endpoint events. Zero value: discard.
	Logger klog.Logger
	// Now is the clock for session affinity and ejection. Default time.Now.
	Now func() time.Time
}

// Default returns the default Options.
func Default() Options {
	return Options{
		Dial:                   dialDirect,
		ListenTCP:              listenTCP,
		ListenUDP:              listenUDP,
		ConnectTimeout:         2 * time.Second,
		Retries:                2,
		EjectAfter:             3,
		EjectBase:              10 * time.Second,
		EjectMax:               5 * time.Minute,
		DefaultAffinityTimeout: 10800 * time.Second,
		UDPIdleTimeout:         60 * time.Second,
		MaxUDPFlows:            1024,
		Now:                    time.Now,
	}
}

// withDefaults fills zero fields from Default().
func (o Options) withDefaults() Options {
	d := Default()
	if o.Dial == nil {
		o.Dial = d.Dial
	}
	if o.ListenTCP == nil {
		o.ListenTCP = d.ListenTCP
	}
	if o.ListenUDP == nil {
		o.ListenUDP = d.ListenUDP
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = d.ConnectTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = d.Retries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.EjectAfter == 0 {
		o.EjectAfter = d.EjectAfter
	}
	if o.EjectBase <= 0 {
		o.EjectBase = d.EjectBase
	}
	if o.EjectMax <= 0 {
		o.EjectMax = d.EjectMax
	}
	if o.EjectMax < o.EjectBase {
		o.EjectMax = o.EjectBase
	}
	if o.DefaultAffinityTimeout <= 0 {
		o.DefaultAffinityTimeout = d.DefaultAffinityTimeout
	}
	if o.UDPIdleTimeout <= 0 {
		o.UDPIdleTimeout = d.UDPIdleTimeout
	}
	if o.MaxUDPFlows <= 0 {
		o.MaxUDPFlows = d.MaxUDPFlows
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

func dialDirect(ctx context.Context, ep view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error) {
	network := "tcp"
	if proto == view.UDP {
		network = "udp"
	}
	var d net.Dialer
	return d.DialContext(ctx, network, netip.AddrPortFrom(ep.IP, port).String())
}

func listenTCP(addr netip.AddrPort) (net.Listener, error) {
	return net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
}

func listenUDP(addr netip.AddrPort) (PacketConn, error) {
	return listenPktinfo(addr)
}
