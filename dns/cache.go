package dns

import (
	"sync"
	"time"

	"github.com/miekg/dns"
)

// cache holds upstream answers, least recently used evicted first. An entry
// lives for the answer's TTL (see answerTTL); on a hit the TTLs handed out are
// decremented by the time spent in the cache. It has no goroutine: expired
// entries go when looked up or evicted.
type cache struct {
	mu    sync.Mutex
	cap   int
	items map[string]*cacheEntry
	head  cacheEntry // sentinel of the LRU list: head.next is the most recent
	now   func() time.Time
}

type cacheEntry struct {
	key        string
	msg        *dns.Msg // never modified once stored
	stored     time.Time
	expires    time.Time
	prev, next *cacheEntry
}

func newCache(capacity int, now func() time.Time) *cache {
	c := &cache{cap: capacity, items: make(map[string]*cacheEntry), now: now}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// get returns a copy of the answer under key, with TTLs aged, or nil.
func (c *cache) get(key string) *dns.Msg {
	if c == nil {
		return nil
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	if !now.Before(e.expires) {
		c.remove(e)
		c.mu.Unlock()
		return nil
	}
	c.unlink(e)
	c.pushFront(e)
	msg, stored := e.msg, e.stored
	c.mu.Unlock()

	out := msg.Copy()
	age := uint32(now.Sub(stored) / time.Second)
	ageRRs(out.Answer, age)
	ageRRs(out.Ns, age)
	ageRRs(out.Extra, age)
	return out
}

// set stores msg under key for ttl. msg must not be modified afterwards.
func (c *cache) set(key string, msg *dns.Msg, ttl time.Duration) {
	if c == nil || ttl <= 0 || c.cap <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.items[key]; ok {
		c.remove(old)
	}
	for len(c.items) >= c.cap {
		c.remove(c.head.prev)
	}
	e := &cacheEntry{key: key, msg: msg, stored: now, expires: now.Add(ttl)}
	c.items[key] = e
	c.pushFront(e)
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *cache) remove(e *cacheEntry) {
	c.unlink(e)
	delete(c.items, e.key)
}

func (c *cache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *cache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}

func ageRRs(rrs []dns.RR, age uint32) {
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		if h.Ttl > age {
			h.Ttl -= age
		} else {
			h.Ttl = 0
		}
	}
}

// answerTTL is how long an upstream answer may be cached: the minimum TTL of
// its records for a positive answer (capped by maxTTL); for NXDOMAIN and NODATA
// the SOA's negative TTL, min(SOA TTL, SOA minimum) per RFC 2308 §5 (capped by
// maxNeg). Zero means do not cache: errors, truncated answers, negative answers
// without SOA.
func answerTTL(m *dns.Msg, maxTTL, maxNeg time.Duration) time.Duration {
	if m.Truncated {
		return 0
	}
	negative := m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0)
	if !negative && m.Rcode != dns.RcodeSuccess {
		return 0
	}
	if negative {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return capTTL(min(soa.Hdr.Ttl, soa.Minttl), maxNeg)
			}
		}
		return 0
	}
	ttl := uint32(1<<31 - 1)
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				ttl = min(ttl, h.Ttl)
			}
		}
	}
	return capTTL(ttl, maxTTL)
}

func capTTL(ttl uint32, limit time.Duration) time.Duration {
	return min(time.Duration(ttl)*time.Second, limit)
}
