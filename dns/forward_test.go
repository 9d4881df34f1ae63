package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// upstream is a miekg server on 127.0.0.1 (UDP and TCP, same port) playing
// the upstream resolver.
type upstream struct {
	addr    string
	udp     atomic.Int64 // queries seen over UDP
	tcp     atomic.Int64 // queries seen over TCP
	servers []*dns.Server
}

func startUpstream(t *testing.T, fn func(w dns.ResponseWriter, r *dns.Msg)) *upstream {
	t.Helper()
	pc, l, err := listenBoth(Options{}.Default(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			u.tcp.Add(1)
		} else {
			u.udp.Add(1)
		}
		fn(w, r)
	})
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		u.servers = append(u.servers, s)
	}
	t.Cleanup(func() {
		for _, s := range u.servers {
			s.Shutdown()
		}
	})
	return u
}

func (u *upstream) queries() int64 { return u.udp.Load() + u.tcp.Load() }

// answerA answers every A question with 192.0.2.1 and ttl, other types NXDOMAIN.
func answerA(ttl uint32) func(w dns.ResponseWriter, r *dns.Msg) {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.RecursionAvailable = true
		q := r.Question[0]
		if q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR(q.Name + " " + itoaU(ttl) + " IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "ns.example.", Mbox: "h.example.", Minttl: 10})
		}
		if opt := r.IsEdns0(); opt != nil {
			m.SetEdns0(4096, opt.Do()) // an upstream OPT, which must not reach the client
		}
		w.WriteMsg(m)
	}
}

func TestForwardAndCache(t *testing.T) {
	up := startUpstream(t, answerA(30))
	clk := newFakeClock()
	reg := prometheus.NewRegistry()
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) {
		o.Upstreams = []string{up.addr}
		o.Now = clk.Now
		o.CacheMaxTTL = 20 * time.Second
		o.Registerer = reg
	})

	m := query(t, h, "Example.COM.", dns.TypeA, false, 1232)
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Authoritative || !m.RecursionAvailable {
		t.Fatalf("forwarded answer: %v", m)
	}
	if m.Question[0].Name != "Example.COM." {
		t.Fatalf("question not the client's: %v", m.Question)
	}
	if opt := m.IsEdns0(); opt == nil || opt.UDPSize() != DefaultUDPSize {
		t.Fatalf("OPT is not ours: %v", opt)
	}

	clk.Advance(5 * time.Second)
	m = query(t, h, "example.com.", dns.TypeA, false, 0)
	if up.queries() != 1 {
		t.Fatalf("upstream asked %d times, want 1 (cache)", up.queries())
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 25 {
		t.Fatalf("cached TTL %d, want 25", ttl)
	}

	// Capped at CacheMaxTTL (20s) although the record says 30s.
	clk.Advance(16 * time.Second)
	query(t, h, "example.com.", dns.TypeA, false, 0)
	if up.queries() != 2 {
		t.Fatalf("upstream asked %d times, want 2 (cap expired)", up.queries())
	}

	// Negative answers cached for the SOA minimum (10s).
	query(t, h, "nx.example.", dns.TypeAAAA, false, 0)
	clk.Advance(9 * time.Second)
	if m := query(t, h, "nx.example.", dns.TypeAAAA, false, 0); m.Rcode != dns.RcodeNameError || up.queries() != 3 {
		t.Fatalf("negative not cached: %s, %d queries", dns.RcodeToString[m.Rcode], up.queries())
	}
	clk.Advance(2 * time.Second)
	query(t, h, "nx.example.", dns.TypeAAAA, false, 0)
	if up.queries() != 4 {
		t.Fatalf("negative cached past SOA minimum: %d queries", up.queries())
	}

	// The DO bit is part of the cache key, and reaches the upstream.
	r := new(dns.Msg).SetQuestion("example.com.", dns.TypeA)
	r.SetEdns0(1232, true)
	rec := &recorder{}
	h.ServeDNS(rec, r)
	if opt := rec.msg.IsEdns0(); up.queries() != 5 || opt == nil || !opt.Do() || opt.UDPSize() != DefaultUDPSize {
		t.Fatalf("DO query: %d upstream queries, opt %v", up.queries(), opt)
	}
	if n := len(rec.msg.Extra); n != 1 {
		t.Fatalf("%d additional records, want only our OPT", n)
	}

	if hits := testutil.ToFloat64(h.metrics.cacheHits); hits != 2 {
		t.Errorf("cache hits %v, want 2", hits)
	}
	if n, err := testutil.GatherAndCount(reg, "outpost_dns_requests_total"); err != nil || n == 0 {
		t.Errorf("requests_total not registered: %d %v", n, err)
	}
}

func TestForwardFailover(t *testing.T) {
	// A UDP port nobody listens on: the kernel answers port unreachable.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr().String()
	dead.Close()

	servfail := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		w.WriteMsg(new(dns.Msg).SetRcode(r, dns.RcodeServerFailure))
	})
	good := startUpstream(t, answerA(30))

	h := newTestHandler(t, fixtureCatalog(), func(o *Options) {
		o.Upstreams = []string{deadAddr, servfail.addr, good.addr}
		o.UpstreamWait = 500 * time.Millisecond
	})
	if m := query(t, h, "example.com.", dns.TypeA, false, 0); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("failover answer: %v", m)
	}
	if servfail.queries() != 1 || good.queries() != 1 {
		t.Fatalf("queries: servfail %d good %d", servfail.queries(), good.queries())
	}
	if got := testutil.ToFloat64(h.metrics.upstreamEr.WithLabelValues(servfail.addr)); got != 1 {
		t.Fatalf("upstream errors for %s = %v", servfail.addr, got)
	}

	h2 := newTestHandler(t, fixtureCatalog(), func(o *Options) { o.Upstreams = []string{servfail.addr} })
	if m := query(t, h2, "example.com.", dns.TypeA, false, 0); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("all upstreams failing: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	// SERVFAIL is not cached.
	query(t, h2, "example.com.", dns.TypeA, false, 0)
	if servfail.queries() != 3 {
		t.Fatalf("SERVFAIL cached? %d queries", servfail.queries())
	}
}

func TestForwardTimeoutBounded(t *testing.T) {
	silent := startUpstream(t, func(dns.ResponseWriter, *dns.Msg) {})
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) {
		o.Upstreams = []string{silent.addr, silent.addr, silent.addr}
		o.UpstreamWait = 100 * time.Millisecond
		o.ForwardTimeout = 250 * time.Millisecond
	})
	start := time.Now()
	m := query(t, h, "example.com.", dns.TypeA, false, 0)
	if m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("got %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v, bound is 250ms", d)
	}
}

func TestForwardSingleflight(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		<-release
		answerA(30)(w, r)
	})
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) { o.Upstreams = []string{up.addr} })

	const n = 20
	var wg sync.WaitGroup
	rcodes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			rcodes[i] = query(t, h, "same.example.", dns.TypeA, false, 0).Rcode
		})
	}
	// Wait until the one exchange is in flight and everybody waits on it.
	deadline := time.Now().Add(5 * time.Second)
	for up.queries() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if q := up.queries(); q != 1 {
		t.Fatalf("upstream asked %d times for %d identical queries", q, n)
	}
	for i, rc := range rcodes {
		if rc != dns.RcodeSuccess {
			t.Fatalf("query %d: %s", i, dns.RcodeToString[rc])
		}
	}
}

func TestForwardTruncatedRetriesTCP(t *testing.T) {
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		for i := range 200 {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(192, 0, 2, byte(i)),
			})
		}
		if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
			m.Truncate(512)
		}
		w.WriteMsg(m)
	})
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) { o.Upstreams = []string{up.addr} })
	if m := query(t, h, "many.example.", dns.TypeA, true, 0); len(m.Answer) != 200 || m.Truncated {
		t.Fatalf("got %d answers, TC %v", len(m.Answer), m.Truncated)
	}
	if up.udp.Load() != 1 || up.tcp.Load() != 1 {
		t.Fatalf("udp %d tcp %d, want 1 and 1", up.udp.Load(), up.tcp.Load())
	}
	// And the client over UDP without EDNS gets it truncated again, from the cache.
	if m := query(t, h, "many.example.", dns.TypeA, false, 0); !m.Truncated {
		t.Fatal("UDP client got an untruncated 200-record answer")
	}
}

func TestForwardExternalNameChased(t *testing.T) {
	up := startUpstream(t, answerA(30))
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) { o.Upstreams = []string{up.addr} })
	m := query(t, h, "ext.shop.svc.cluster.local.", dns.TypeA, false, 0)
	want := []string{"api.example.com. A 192.0.2.1", "ext.shop.svc.cluster.local. CNAME api.example.com."}
	if got := rrs(m.Answer); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("answer %q, want %q", got, want)
	}
}

func TestHandlerCloseCancelsForwarding(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) { <-release })
	h := newTestHandler(t, fixtureCatalog(), func(o *Options) {
		o.Upstreams = []string{up.addr}
		o.UpstreamWait = 10 * time.Second
		o.ForwardTimeout = 10 * time.Second
	})
	done := make(chan int)
	go func() { done <- query(t, h, "slow.example.", dns.TypeA, false, 0).Rcode }()
	for up.queries() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	h.Close()
	select {
	case rc := <-done:
		if rc != dns.RcodeServerFailure {
			t.Fatalf("got %s", dns.RcodeToString[rc])
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not cancel the exchange")
	}
}

func TestUpstreamAddrs(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	content := "# test\nsearch svc.cluster.local\nnameserver 169.254.96.16\nnameserver 10.0.0.2\nnameserver fd00::53\noptions ndots:5\n"
	if err := os.WriteFile(rc, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	self := []netip.AddrPort{netip.MustParseAddrPort("169.254.96.16:53")}
	got, err := upstreamAddrs(nil, rc, self)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.2:53", "[fd00::53]:53"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %q, want %q", got, want)
	}

	// Explicit upstreams win; a wildcard listener on :53 excludes loopback.
	got, err = upstreamAddrs([]string{"127.0.0.1", "127.0.0.53:53", "9.9.9.9:5353"}, rc,
		[]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:53")})
	if err != nil || len(got) != 1 || got[0] != "9.9.9.9:5353" {
		t.Fatalf("got %q, %v", got, err)
	}

	if _, err := upstreamAddrs([]string{"not-an-ip"}, rc, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("bad upstream: %v", err)
	}
	if _, err := upstreamAddrs(nil, filepath.Join(dir, "missing"), nil); err == nil {
		t.Fatal("missing resolv.conf accepted")
	}
}

func TestForwardNoUpstreamIsErrNoUpstream(t *testing.T) {
	f := &forwarder{}
	_, err := f.exchange(context.Background(), dns.Question{Name: "x.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	if !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("err %v", err)
	}
}
