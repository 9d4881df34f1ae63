package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// MemoryCatalog is an in-memory [Catalog], safe for concurrent use. Upsert and
// Delete do the indexing (service map, namespaces, reverse map) so lookups are
// single map reads under a read lock.
type MemoryCatalog struct {
	mu         sync.RWMutex
	services   map[serviceKey]*Service
	namespaces map[string]int // namespace -> number of services
	reverse    map[netip.Addr]*reverseOwners
}

type serviceKey struct{ namespace, name string }

// reverseOwners lists who claims an IP; ClusterIP owners win over endpoints.
type reverseOwners struct {
	clusterIP []ReverseName
	endpoint  []ReverseName
}

// NewMemoryCatalog returns an empty catalog.
func NewMemoryCatalog() *MemoryCatalog {
	return &MemoryCatalog{
		services:   make(map[serviceKey]*Service),
		namespaces: make(map[string]int),
		reverse:    make(map[netip.Addr]*reverseOwners),
	}
}

var _ Catalog = (*MemoryCatalog)(nil)

// Upsert adds or replaces the service svc.Namespace/svc.Name. The catalog keeps
// its own copy: the caller may reuse svc afterwards.
func (c *MemoryCatalog) Upsert(svc Service) {
	s := cloneService(svc)
	key := serviceKey{s.Namespace, s.Name}

	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.services[key]; ok {
		c.unindexReverse(old)
	} else {
		c.namespaces[key.namespace]++
	}
	c.services[key] = s
	c.indexReverse(s)
}

// Delete removes namespace/name and reports whether it was there.
func (c *MemoryCatalog) Delete(namespace, name string) bool {
	key := serviceKey{strings.ToLower(namespace), strings.ToLower(name)}

	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.services[key]
	if !ok {
		return false
	}
	c.unindexReverse(old)
	delete(c.services, key)
	if c.namespaces[key.namespace]--; c.namespaces[key.namespace] <= 0 {
		delete(c.namespaces, key.namespace)
	}
	return true
}

// Len returns the number of services.
func (c *MemoryCatalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.services)
}

// Service implements [Catalog]. The returned value must not be modified.
func (c *MemoryCatalog) Service(namespace, name string) (*Service, bool) {
	c.mu.RLock()
	s, ok := c.services[serviceKey{namespace, name}]
	c.mu.RUnlock()
	return s, ok
}

// HasNamespace implements [Catalog].
func (c *MemoryCatalog) HasNamespace(namespace string) bool {
	c.mu.RLock()
	n := c.namespaces[namespace]
	c.mu.RUnlock()
	return n > 0
}

// ReverseLookup implements [Catalog].
func (c *MemoryCatalog) ReverseLookup(ip netip.Addr) (ReverseName, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.reverse[ip.Unmap()]
	switch {
	case !ok:
		return ReverseName{}, false
	case len(o.clusterIP) > 0:
		return o.clusterIP[0], true
	case len(o.endpoint) > 0:
		return o.endpoint[0], true
	}
	return ReverseName{}, false
}

func (c *MemoryCatalog) indexReverse(s *Service) {
	switch s.Type {
	case ClusterIP:
		for _, ip := range s.ClusterIPs {
			o := c.owners(ip)
			o.clusterIP = append(o.clusterIP, ReverseName{Namespace: s.Namespace, Service: s.Name})
		}
	case Headless:
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if !s.published(e) {
				continue
			}
			o := c.owners(e.IP)
			o.endpoint = append(o.endpoint, ReverseName{Namespace: s.Namespace, Service: s.Name, Hostname: endpointLabel(e)})
		}
	}
}

func (c *MemoryCatalog) owners(ip netip.Addr) *reverseOwners {
	ip = ip.Unmap()
	o, ok := c.reverse[ip]
	if !ok {
		o = &reverseOwners{}
		c.reverse[ip] = o
	}
	return o
}

func (c *MemoryCatalog) unindexReverse(s *Service) {
	mine := func(r ReverseName) bool { return r.Namespace == s.Namespace && r.Service == s.Name }
	drop := func(ip netip.Addr) {
		ip = ip.Unmap()
		o, ok := c.reverse[ip]
		if !ok {
			return
		}
		o.clusterIP = slices.DeleteFunc(o.clusterIP, mine)
		o.endpoint = slices.DeleteFunc(o.endpoint, mine)
		if len(o.clusterIP) == 0 && len(o.endpoint) == 0 {
			delete(c.reverse, ip)
		}
	}
	for _, ip := range s.ClusterIPs {
		drop(ip)
	}
	for i := range s.Endpoints {
		drop(s.Endpoints[i].IP)
	}
}

// cloneService deep-copies svc and normalises what the handler compares:
// lower-case names, addresses without IPv4-in-IPv6 mapping, only valid IPs.
func cloneService(svc Service) *Service {
	s := svc
	s.Name = strings.ToLower(svc.Name)
	s.Namespace = strings.ToLower(svc.Namespace)
	s.ExternalName = strings.ToLower(svc.ExternalName)
	s.ClusterIPs = make([]netip.Addr, 0, len(svc.ClusterIPs))
	for _, ip := range svc.ClusterIPs {
		if ip.IsValid() {
			s.ClusterIPs = append(s.ClusterIPs, ip.Unmap())
		}
	}
	s.Ports = slices.Clone(svc.Ports)
	s.Endpoints = slices.Clone(svc.Endpoints)
	for i := range s.Endpoints {
		s.Endpoints[i].IP = s.Endpoints[i].IP.Unmap()
		s.Endpoints[i].Hostname = strings.ToLower(s.Endpoints[i].Hostname)
	}
	if s.Type != ClusterIP {
		s.ClusterIPs = nil
	}
	return &s
}
