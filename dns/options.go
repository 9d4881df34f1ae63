package dns

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
)

// Defaults applied by [Options.Default].
const (
	DefaultZone           = "cluster.local"
	DefaultTTL            = 5 * time.Second
	DefaultResolvConf     = "/etc/resolv.conf"
	DefaultUDPSize        = 1232 // the DNS flag day 2020 EDNS0 size: no IP fragmentation
	DefaultUpstreamWait   = 2 * time.Second
	DefaultForwardTimeout = 5 * time.Second
	DefaultCacheSize      = 10000
	DefaultCacheMaxTTL    = 300 * time.Second
	DefaultCacheMaxNegTTL = 30 * time.Second
)

// Options configures a [Handler] and a [Server]. The zero value of a field
// means its default; see [Options.Default].
type Options struct {
	// Catalog is the service view answered from. Required.
	Catalog Catalog
	// Zone is the cluster domain, without trailing dot. Default "cluster.local".
	Zone string
	// TTL of the records answered from Catalog and of the zone's SOA minimum.
	// Default 5s; rounded down to whole seconds.
	TTL time.Duration
	// ReverseCIDRs are the address ranges this server is authoritative for in
	// in-addr.arpa/ip6.arpa (the service and pod CIDRs): a PTR query for an
	// unknown IP inside them is NXDOMAIN instead of being forwarded.
	ReverseCIDRs []netip.Prefix
	// UDPSize is the EDNS0 payload size this server advertises. Default 1232.
	UDPSize uint16

	// Upstreams are the resolvers ("ip" or "ip:port") names outside the zone
	// are forwarded to. Empty means the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is the resolv.conf read when Upstreams is empty. Default
	// /etc/resolv.conf. Read once, at construction.
	ResolvConf string
	// UpstreamWait bounds one exchange with one upstream. Default 2s.
	UpstreamWait time.Duration
	// ForwardTimeout bounds the whole forwarding of one query, over all
	// upstreams and the TCP retry of a truncated answer. Default 5s.
	ForwardTimeout time.Duration
	// CacheSize is the number of upstream answers kept (least recently used
	// are evicted). Default 10000; negative disables the cache.
	CacheSize int
	// CacheMaxTTL caps how long a positive upstream answer is cached. Default 300s.
	CacheMaxTTL time.Duration
	// CacheMaxNegativeTTL caps how long NXDOMAIN/NODATA is cached (RFC 2308:
	// the SOA minimum, capped). Default 30s.
	CacheMaxNegativeTTL time.Duration

	// Listen are the addresses ("ip:port") served on UDP and TCP by a
	// [Server], opened with ListenPacket and ListenStream.
	Listen []string
	// PacketConns are already-opened UDP sockets a [Server] serves on (and
	// closes on Close).
	PacketConns []net.PacketConn
	// Listeners are already-opened TCP listeners a [Server] serves on (and
	// closes on Close).
	Listeners []net.Listener
	// ListenPacket opens the UDP side of Listen. Default net.ListenPacket.
	ListenPacket func(network, address string) (net.PacketConn, error)
	// ListenStream opens the TCP side of Listen. Default net.Listen.
	ListenStream func(network, address string) (net.Listener, error)
	// TCPIdleTimeout bounds how long a TCP connection waits for the next
	// query. Default 10s.
	TCPIdleTimeout time.Duration

	// Logger receives the package's logs. The zero value means
	// klog.Background(); to drop logs pass a logger whose sink drops them
	// (e.g. logr/funcr with an empty function).
	Logger klog.Logger
	// Registerer receives the metrics. Nil means they are kept but not registered.
	Registerer prometheus.Registerer
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
}

// NewDefaultOptions returns the defaults for a catalog.
func NewDefaultOptions(c Catalog) Options {
	return Options{Catalog: c}.Default()
}

// Default returns o with every zero field set to its default.
func (o Options) Default() Options {
	if o.Zone == "" {
		o.Zone = DefaultZone
	}
	o.Zone = strings.ToLower(strings.TrimSuffix(o.Zone, "."))
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.UDPSize == 0 {
		o.UDPSize = DefaultUDPSize
	}
	if o.ResolvConf == "" {
		o.ResolvConf = DefaultResolvConf
	}
	if o.UpstreamWait == 0 {
		o.UpstreamWait = DefaultUpstreamWait
	}
	if o.ForwardTimeout == 0 {
		o.ForwardTimeout = DefaultForwardTimeout
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheMaxTTL == 0 {
		o.CacheMaxTTL = DefaultCacheMaxTTL
	}
	if o.CacheMaxNegativeTTL == 0 {
		o.CacheMaxNegativeTTL = DefaultCacheMaxNegTTL
	}
	if o.ListenPacket == nil {
		o.ListenPacket = net.ListenPacket
	}
	if o.ListenStream == nil {
		o.ListenStream = net.Listen
	}
	if o.TCPIdleTimeout == 0 {
		o.TCPIdleTimeout = 10 * time.Second
	}
	if o.Logger.GetSink() == nil {
		o.Logger = klog.Background()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// validate checks o after Default.
func (o *Options) validate() error {
	switch {
	case o.Catalog == nil:
		return fmt.Errorf("dns: options: catalog is nil: %w", ErrInvalidOptions)
	case o.TTL < time.Second || o.TTL > 24*time.Hour:
		return fmt.Errorf("dns: options: ttl %v out of [1s, 24h]: %w", o.TTL, ErrInvalidOptions)
	case o.UDPSize < 512:
		return fmt.Errorf("dns: options: udp size %d below 512: %w", o.UDPSize, ErrInvalidOptions)
	case o.UpstreamWait < 0 || o.ForwardTimeout < 0:
		return fmt.Errorf("dns: options: negative timeout: %w", ErrInvalidOptions)
	}
	if _, ok := dns.IsDomainName(o.Zone + "."); !ok || o.Zone == "" {
		return fmt.Errorf("dns: options: zone %q is not a domain name: %w", o.Zone, ErrInvalidOptions)
	}
	return nil
}
