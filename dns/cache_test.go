package dns

import (
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func aAnswer(name string, ttl uint32) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	m.Response = true
	rr, _ := dns.NewRR(name + " " + itoaU(ttl) + " IN A 192.0.2.1")
	m.Answer = []dns.RR{rr}
	return m
}

func TestCacheExpiryAndAging(t *testing.T) {
	clk := newFakeClock()
	c := newCache(10, clk.Now)
	c.set("k", aAnswer("a.example.", 30), 30*time.Second)

	clk.Advance(10 * time.Second)
	m := c.get("k")
	if m == nil || m.Answer[0].Header().Ttl != 20 {
		t.Fatalf("after 10s: %v", m)
	}
	m.Answer[0].Header().Ttl = 999 // the copy is the caller's
	if m := c.get("k"); m.Answer[0].Header().Ttl != 20 {
		t.Fatal("cache entry modified through a returned copy")
	}
	clk.Advance(20 * time.Second)
	if m := c.get("k"); m != nil {
		t.Fatal("entry alive at its expiry")
	}
	if c.len() != 0 {
		t.Fatal("expired entry not removed")
	}
}

func TestCacheLRU(t *testing.T) {
	clk := newFakeClock()
	c := newCache(2, clk.Now)
	c.set("a", aAnswer("a.", 60), time.Minute)
	c.set("b", aAnswer("b.", 60), time.Minute)
	c.get("a") // a is now the most recent
	c.set("c", aAnswer("c.", 60), time.Minute)
	if c.get("b") != nil || c.get("a") == nil || c.get("c") == nil || c.len() != 2 {
		t.Fatal("LRU eviction wrong")
	}
	c.set("c", aAnswer("c.", 60), time.Minute) // replace in place
	if c.len() != 2 {
		t.Fatal("replace grew the cache")
	}
	c.set("zero", aAnswer("z.", 0), 0)
	if c.get("zero") != nil {
		t.Fatal("zero TTL cached")
	}
}

func TestAnswerTTL(t *testing.T) {
	const maxTTL, maxNeg = 300 * time.Second, 30 * time.Second
	soa := func(ttl, minttl uint32) dns.RR {
		return &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
			Ns: "ns.example.", Mbox: "h.example.", Minttl: minttl}
	}
	pos := aAnswer("a.example.", 60)
	pos.Extra = append(pos.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}})
	long := aAnswer("a.example.", 86400)
	nx := new(dns.Msg)
	nx.Rcode = dns.RcodeNameError
	nx.Ns = []dns.RR{soa(3600, 10)}
	nodata := new(dns.Msg)
	nodata.Ns = []dns.RR{soa(5, 3600)}
	bigNeg := new(dns.Msg)
	bigNeg.Rcode = dns.RcodeNameError
	bigNeg.Ns = []dns.RR{soa(3600, 3600)}
	nxNoSOA := new(dns.Msg)
	nxNoSOA.Rcode = dns.RcodeNameError
	servfail := new(dns.Msg)
	servfail.Rcode = dns.RcodeServerFailure
	tc := aAnswer("a.example.", 60)
	tc.Truncated = true

	for _, tt := range []struct {
		name string
		m    *dns.Msg
		want time.Duration
	}{
		{"positive: min TTL, OPT ignored", pos, 60 * time.Second},
		{"positive capped", long, maxTTL},
		{"NXDOMAIN: SOA minimum", nx, 10 * time.Second},
		{"NODATA: SOA TTL when lower", nodata, 5 * time.Second},
		{"negative capped", bigNeg, maxNeg},
		{"negative without SOA", nxNoSOA, 0},
		{"SERVFAIL", servfail, 0},
		{"truncated", tc, 0},
	} {
		if got := answerTTL(tt.m, maxTTL, maxNeg); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
