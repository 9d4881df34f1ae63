package view

import (
	"net/netip"
	"sort"
	"sync"

	"github.com/outpostmesh/outpost/dns"
)

// Store holds the current view and indexes it for DNS (it is a dns.Catalog) and the proxy.
// It is safe for concurrent use; published *Service values are never mutated.
type Store struct {
	*dns.MemoryCatalog

	mu       sync.RWMutex
	services map[string]*Service // by Key()
	nodes    map[string]Node
	// endpoints counts, per node and address, the service ports served there.
	endpoints map[nodeAddr]int
	gen       uint64
	changed   chan struct{} // closed and replaced on every change
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		MemoryCatalog: dns.NewMemoryCatalog(),
		services:      map[string]*Service{},
		nodes:         map[string]Node{},
		endpoints:     map[nodeAddr]int{},
		changed:       make(chan struct{}),
	}
}

// Upsert adds or replaces a service.
func (s *Store) Upsert(svc *Service) {
	s.mu.Lock()
	if old, ok := s.services[svc.Key()]; ok {
		s.indexLocked(old, -1)
	}
	s.indexLocked(svc, +1)
	s.services[svc.Key()] = svc
	s.MemoryCatalog.Upsert(toDNS(svc))
	s.bumpLocked()
	s.mu.Unlock()
}

// Delete removes a service; it reports whether it was there.
func (s *Store) Delete(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	old, ok := s.services[key]
	if !ok {
		return false
	}
	s.indexLocked(old, -1)
	delete(s.services, key)
	s.MemoryCatalog.Delete(namespace, name)
	s.bumpLocked()
	return true
}

// UpsertNode adds or replaces a node.
func (s *Store) UpsertNode(n Node) {
	s.mu.Lock()
	if old, ok := s.nodes[n.Name]; !ok || old != n {
		s.nodes[n.Name] = n
		s.bumpLocked()
	}
	s.mu.Unlock()
}

// DeleteNode removes a node.
func (s *Store) DeleteNode(name string) {
	s.mu.Lock()
	if _, ok := s.nodes[name]; ok {
		delete(s.nodes, name)
		s.bumpLocked()
	}
	s.mu.Unlock()
}

func (s *Store) bumpLocked() {
	s.gen++
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change, and the current generation.
func (s *Store) Changed() (<-chan struct{}, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed, s.gen
}

// Get returns a service by namespace and name.
func (s *Store) Get(namespace, name string) (*Service, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	svc, ok := s.services[namespace+"/"+name]
	return svc, ok
}

// Services returns every service, sorted by key.
func (s *Store) Services() []*Service {
	s.mu.RLock()
	out := make([]*Service, 0, len(s.services))
	for _, svc := range s.services {
		out = append(out, svc)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Node returns a node by name.
func (s *Store) Node(name string) (Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[name]
	return n, ok
}

// Nodes returns every node, sorted by name.
func (s *Store) Nodes() []Node {
	s.mu.RLock()
	out := make([]Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SiteOf returns the site of a node ("" when the node or its label is unknown).
func (s *Store) SiteOf(node string) string {
	n, _ := s.Node(node)
	return n.Site
}

type nodeAddr struct {
	node string
	addr netip.AddrPort
}

func (s *Store) indexLocked(svc *Service, delta int) {
	for _, e := range svc.Endpoints {
		for _, p := range e.Ports {
			k := nodeAddr{e.NodeName, netip.AddrPortFrom(e.IP, p)}
			if s.endpoints[k] += delta; s.endpoints[k] <= 0 {
				delete(s.endpoints, k)
			}
		}
	}
}

// HasEndpointOnNode reports whether ip:port is an endpoint of some service on node: the check
// an agent makes before dialling for a peer, so a peer cannot make it dial arbitrary addresses.
func (s *Store) HasEndpointOnNode(node string, ip netip.Addr, port uint16) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.endpoints[nodeAddr{node, netip.AddrPortFrom(ip, port)}] > 0
}
