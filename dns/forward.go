package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"k8s.io/klog/v2"
)

// forwarder sends names outside the zone to upstream resolvers, through the
// cache, with one exchange in flight per distinct question (singleflight). It
// owns no goroutine: the exchange runs on the goroutine of the first query
// that asked for it, and the others wait for it.
type forwarder struct {
	upstreams []string // "ip:port", tried in order
	udpSize   uint16
	wait      time.Duration // one exchange
	timeout   time.Duration // all of them
	maxTTL    time.Duration
	maxNeg    time.Duration
	cache     *cache
	metrics   *metrics
	log       klog.Logger

	mu    sync.Mutex
	calls map[string]*call
}

// call is one upstream resolution shared by identical queries.
type call struct {
	done chan struct{}
	msg  *dns.Msg // immutable once done is closed
	err  error
}

// resolve answers r (a question outside the zone). The returned message is the
// caller's own copy; its ID and question are not yet the client's.
func (f *forwarder) resolve(ctx context.Context, r *dns.Msg) (*dns.Msg, error) {
	q := r.Question[0]
	do := false
	if opt := r.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	name := strings.ToLower(q.Name)
	key := cacheKey(name, q.Qtype, q.Qclass, do, r.CheckingDisabled)
	if m := f.cache.get(key); m != nil {
		f.metrics.cacheHits.Inc()
		return m, nil
	}
	f.metrics.cacheMiss.Inc()

	f.mu.Lock()
	c, ok := f.calls[key]
	if !ok {
		c = &call{done: make(chan struct{})}
		f.calls[key] = c
	}
	f.mu.Unlock()

	if !ok { // leader
		c.msg, c.err = f.exchange(ctx, dns.Question{Name: name, Qtype: q.Qtype, Qclass: q.Qclass}, do, r.CheckingDisabled)
		if c.err == nil {
			f.cache.set(key, c.msg, answerTTL(c.msg, f.maxTTL, f.maxNeg))
			f.metrics.cacheSize.Set(float64(f.cache.len()))
		}
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	} else {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("dns: forward %s: %w", name, ctx.Err())
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	return c.msg.Copy(), nil
}

func cacheKey(name string, qtype, qclass uint16, do, cd bool) string {
	var flags byte
	if do {
		flags |= 1
	}
	if cd {
		flags |= 2
	}
	return name + "/" + strconv.Itoa(int(qtype)) + "/" + strconv.Itoa(int(qclass)) + "/" + string(rune('0'+flags))
}

// exchange asks the upstreams in order until one answers with something other
// than SERVFAIL/REFUSED. A truncated UDP answer is asked again over TCP.
func (f *forwarder) exchange(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, fmt.Errorf("dns: forward %s: %w", q.Name, ErrNoUpstream)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	var errs []error
	for _, up := range f.upstreams {
		m := new(dns.Msg)
		m.Id = dns.Id()
		m.RecursionDesired = true
		m.CheckingDisabled = cd
		m.Question = []dns.Question{q}
		m.SetEdns0(f.udpSize, do)

		resp, err := f.exchangeOne(ctx, m, up)
		if err == nil && (resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused) {
			err = fmt.Errorf("%s from %s", dns.RcodeToString[resp.Rcode], up)
		}
		if err == nil {
			stripOPT(resp)
			return resp, nil
		}
		f.metrics.upstreamEr.WithLabelValues(up).Inc()
		f.log.V(4).Info("Upstream exchange failed", "upstream", up, "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dns: forward %s: %w: %w", q.Name, ErrUpstream, errors.Join(errs...))
}

func (f *forwarder) exchangeOne(ctx context.Context, m *dns.Msg, upstream string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	resp, err := exchangeOver(ctx, "udp", f.udpSize, m, upstream)
	if err == nil && resp.Truncated {
		resp, err = exchangeOver(ctx, "tcp", f.udpSize, m, upstream)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Question) != 1 || resp.Question[0].Qtype != m.Question[0].Qtype ||
		!strings.EqualFold(resp.Question[0].Name, m.Question[0].Name) {
		return nil, fmt.Errorf("answer from %s does not match the question", upstream)
	}
	return resp, nil
}

// exchangeOver does one exchange on its own connection, which is closed as
// soon as ctx ends: miekg's client only takes the context's deadline, not its
// cancellation.
func exchangeOver(ctx context.Context, network string, udpSize uint16, m *dns.Msg, upstream string) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := dns.Client{Net: network, UDPSize: udpSize}
	conn, err := c.DialContext(ctx, upstream)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return resp, err
}

// stripOPT removes the upstream's OPT record: the client gets ours.
func stripOPT(m *dns.Msg) {
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	m.Extra = extra
}

// upstreamAddrs returns the upstreams as "ip:port": explicit ones, else the
// nameservers of resolv.conf. Any that is one of self (the server's own
// listen addresses) is dropped: forwarding to ourselves would loop. A self
// address on an unspecified IP drops loopback upstreams on its port.
func upstreamAddrs(explicit []string, resolvConf string, self []netip.AddrPort) ([]string, error) {
	var raw []string
	if len(explicit) > 0 {
		raw = explicit
	} else {
		cfg, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("dns: read %s: %w", resolvConf, err)
		}
		for _, s := range cfg.Servers {
			raw = append(raw, net.JoinHostPort(s, cfg.Port))
		}
	}
	var out []string
	for _, s := range raw {
		ap, err := parseUpstream(s)
		if err != nil {
			return nil, err
		}
		if isSelf(ap, self) {
			continue
		}
		out = append(out, ap.String())
	}
	return out, nil
}

func parseUpstream(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dns: upstream %q is not ip or ip:port: %w", s, ErrInvalidOptions)
	}
	return netip.AddrPortFrom(ip.Unmap(), 53), nil
}

func isSelf(up netip.AddrPort, self []netip.AddrPort) bool {
	for _, s := range self {
		if s.Port() != up.Port() {
			continue
		}
		if s.Addr() == up.Addr().WithZone(s.Addr().Zone()) || (s.Addr().IsUnspecified() && up.Addr().IsLoopback()) {
			return true
		}
	}
	return false
}
