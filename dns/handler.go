package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/klog/v2"
)

// Handler answers DNS queries: names in the zone from the [Catalog], reverse
// names of known IPs with PTR, everything else through the upstream
// forwarder. It implements miekg's dns.Handler and is safe for concurrent use.
type Handler struct {
	catalog Catalog
	zone    string // lower-case, fully qualified: "cluster.local."
	ttl     uint32
	udpSize uint16
	reverse []netip.Prefix
	soa     *dns.SOA // shared: packing does not modify records
	version *dns.TXT // dns-version.<zone>
	fwd     *forwarder
	metrics *metrics
	log     klog.Logger

	// ctx bounds forwarded exchanges; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

var _ dns.Handler = (*Handler)(nil)

// NewHandler returns a handler for opts (defaults applied). self are the
// addresses the handler is served on, never used as upstreams.
func NewHandler(opts Options, self ...netip.AddrPort) (*Handler, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dns: register metrics: %w", err)
	}
	ups, err := upstreamAddrs(opts.Upstreams, opts.ResolvConf, self)
	if err != nil {
		return nil, err
	}
	if len(ups) == 0 {
		opts.Logger.Info("No upstream resolver: names outside the zone will get SERVFAIL", "resolvConf", opts.ResolvConf)
	}
	zone := opts.Zone + "."
	ttl := uint32(opts.TTL / time.Second)
	h := &Handler{
		catalog: opts.Catalog,
		zone:    zone,
		ttl:     ttl,
		udpSize: opts.UDPSize,
		reverse: opts.ReverseCIDRs,
		soa: &dns.SOA{
			Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
			Ns:      "ns.dns." + zone,
			Mbox:    "hostmaster." + zone,
			Serial:  uint32(opts.Now().Unix()),
			Refresh: 7200, Retry: 1800, Expire: 86400,
			Minttl: ttl,
		},
		version: &dns.TXT{
			Hdr: dns.RR_Header{Name: "dns-version." + zone, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl},
			Txt: []string{"1.1.0"},
		},
		metrics: m,
		log:     opts.Logger.WithName("dns"),
	}
	var c *cache
	if opts.CacheSize > 0 {
		c = newCache(opts.CacheSize, opts.Now)
	}
	h.fwd = &forwarder{
		upstreams: ups,
		udpSize:   opts.UDPSize,
		wait:      opts.UpstreamWait,
		timeout:   opts.ForwardTimeout,
		maxTTL:    opts.CacheMaxTTL,
		maxNeg:    opts.CacheMaxNegativeTTL,
		cache:     c,
		metrics:   m,
		log:       h.log,
		calls:     make(map[string]*call),
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Upstreams returns the upstream resolvers in use ("ip:port").
func (h *Handler) Upstreams() []string { return append([]string(nil), h.fwd.upstreams...) }

// Close cancels forwarded exchanges in flight; later forwarded queries get
// SERVFAIL at once. Zone answers keep working.
func (h *Handler) Close() { h.cancel() }

// ServeDNS implements dns.Handler.
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	start := time.Now()
	if r == nil || r.Response {
		return // never answer answers: that is how reflection loops start
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	src, qtype := 2, uint16(0) // sourceError
	opt := r.IsEdns0()

	switch {
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(r.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	case opt != nil && opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3
	default:
		q := r.Question[0]
		qtype = q.Qtype
		src = h.answer(m, r, q)
	}

	h.write(w, r, m, opt)
	h.metrics.request(qtype, m.Rcode)
	h.metrics.observe(src, time.Since(start).Seconds())
}

// answer fills m for the one question q of r and returns the metrics source.
func (h *Handler) answer(m, r *dns.Msg, q dns.Question) int {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return 2
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		m.Rcode = dns.RcodeRefused // no zone transfers of the service view
		return 2
	}
	name := strings.ToLower(q.Name)
	if zn, ok := splitZone(name, h.zone); ok {
		h.answerZone(m, q, zn)
		return 0
	}
	if ip, ok := parseReverse(name); ok && h.answerReverse(m, q, ip) {
		return 0
	}
	h.forward(m, r)
	return 1
}

// forward answers m from upstream; SERVFAIL when that fails.
func (h *Handler) forward(m, r *dns.Msg) {
	resp, err := h.fwd.resolve(h.ctx, r)
	if err != nil {
		h.log.V(4).Info("Forwarding failed", "name", r.Question[0].Name, "err", err)
		m.Rcode = dns.RcodeServerFailure
		return
	}
	m.Rcode = resp.Rcode
	m.Authoritative = false
	m.RecursionAvailable = resp.RecursionAvailable
	m.AuthenticatedData = resp.AuthenticatedData
	m.Answer, m.Ns, m.Extra = resp.Answer, resp.Ns, resp.Extra
}

// write sends m, sized for the transport: over UDP, truncated (TC) to the
// client's EDNS0 size or 512; over TCP, whole. An OPT is added when the
// query had one (EDNS0 echo: our size, the client's DO bit).
func (h *Handler) write(w dns.ResponseWriter, r, m *dns.Msg, opt *dns.OPT) {
	size := dns.MinMsgSize
	if opt != nil {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(h.udpSize)
		o.SetDo(opt.Do())
		m.Extra = append(m.Extra, o)
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	if isTCP(w) {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	if err := w.WriteMsg(m); err != nil {
		h.log.V(4).Info("Writing DNS answer failed", "remote", w.RemoteAddr(), "err", err)
	}
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}
