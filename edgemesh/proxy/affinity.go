package proxy

import (
	"net/netip"
	"sync"
	"time"
)

// affinityTable remembers the backend each client IP last used, for services with
// sessionAffinity ClientIP. An entry expires when the client has not connected for the
// service's affinity timeout (Kubernetes semantics: the timeout runs from the last use).
type affinityTable struct {
	mu      sync.Mutex
	entries map[netip.Addr]affinityEntry
	// pruneAt is the table size at which expired entries are swept next.
	pruneAt int
}

type affinityEntry struct {
	addr     netip.AddrPort
	lastUsed time.Time
}

const affinityPruneMin = 1024

func newAffinityTable() *affinityTable {
	return &affinityTable{entries: make(map[netip.Addr]affinityEntry), pruneAt: affinityPruneMin}
}

// get returns the backend address client is stuck to, if the entry has not expired.
func (t *affinityTable) get(client netip.Addr, now time.Time, timeout time.Duration) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[client]
	if !ok {
		return netip.AddrPort{}, false
	}
	if now.Sub(e.lastUsed) >= timeout {
		delete(t.entries, client)
		return netip.AddrPort{}, false
	}
	return e.addr, true
}

// put records that client used addr at now.
func (t *affinityTable) put(client netip.Addr, addr netip.AddrPort, now time.Time, timeout time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries[client] = affinityEntry{addr: addr, lastUsed: now}
	if len(t.entries) >= t.pruneAt {
		for c, e := range t.entries {
			if now.Sub(e.lastUsed) >= timeout {
				delete(t.entries, c)
			}
		}
		t.pruneAt = max(affinityPruneMin, 2*len(t.entries))
	}
}
