package dns

import "net/netip"

// Catalog is the service view DNS answers from. The agent's service view
// implements it; [MemoryCatalog] is an in-memory implementation.
//
// Implementations must be safe for concurrent use, must answer in O(1) (a map
// lookup: the handler calls them on every query) and must treat the returned
// values as immutable: the handler reads them without copying, so an update
// replaces a *Service rather than mutating it.
type Catalog interface {
	// Service returns the service namespace/name, or false if there is none.
	// Names are lower-case, as Kubernetes requires.
	Service(namespace, name string) (*Service, bool)
	// HasNamespace reports whether at least one service lives in namespace;
	// it decides between NODATA and NXDOMAIN for <ns>.svc.<zone>.
	HasNamespace(namespace string) bool
	// ReverseLookup returns the name an IP resolves back to (PTR): the
	// service owning it as a ClusterIP, else a headless service with a ready
	// endpoint on it.
	ReverseLookup(ip netip.Addr) (ReverseName, bool)
}

// ServiceType is the kind of a service, as far as DNS is concerned.
type ServiceType uint8

const (
	// ClusterIP services resolve to their ClusterIPs.
	ClusterIP ServiceType = iota
	// Headless services (clusterIP: None) resolve to their ready endpoints' IPs
	// and have per-endpoint names.
	Headless
	// ExternalName services resolve to a CNAME to ExternalName.
	ExternalName
)

// String returns the Kubernetes spelling of the type.
func (t ServiceType) String() string {
	switch t {
	case ClusterIP:
		return "ClusterIP"
	case Headless:
		return "Headless"
	case ExternalName:
		return "ExternalName"
	}
	return "Unknown"
}

// Service is what DNS needs to know about one Kubernetes Service. NodePort and
// LoadBalancer services are ClusterIP services here.
type Service struct {
	// Name is the service's name (a DNS label, lower-case).
	Name string
	// Namespace is the service's namespace (a DNS label, lower-case).
	Namespace string
	// Type selects how the name resolves.
	Type ServiceType
	// ClusterIPs are the virtual IPs of a ClusterIP service, IPv4 and/or IPv6
	// (dual stack). A and AAAA answers take the matching family. Ignored for
	// other types.
	ClusterIPs []netip.Addr
	// ExternalName is the target of an ExternalName service, a domain name
	// with or without the trailing dot. Ignored for other types.
	ExternalName string
	// Ports are the service's ports. Only named ports get SRV records.
	Ports []Port
	// Endpoints are the backends. DNS uses them for headless services only
	// (A/AAAA, per-endpoint names, SRV, PTR); a ClusterIP service may carry
	// them for the agent's other uses.
	Endpoints []Endpoint
	// PublishNotReadyAddresses makes DNS include endpoints that are not ready
	// (spec.publishNotReadyAddresses), as StatefulSets' peer discovery needs.
	PublishNotReadyAddresses bool
}

// Port is one service port.
type Port struct {
	// Name is the port's name; the SRV label is _<Name>. Unnamed ports have no SRV.
	Name string
	// Protocol is "TCP", "UDP" or "SCTP" (any case); the SRV label is _tcp, _udp or _sctp.
	Protocol string
	// Port is the service port, the SRV port of a ClusterIP service.
	Port uint16
	// EndpointPort is the port on the endpoints (the resolved targetPort), the
	// SRV port of a headless service. Zero means the same as Port.
	EndpointPort uint16
}

// Endpoint is one backend of a service.
type Endpoint struct {
	// IP is the endpoint's address (a pod IP, usually).
	IP netip.Addr
	// Hostname is the endpoint's hostname (pod spec.hostname, set for
	// StatefulSet pods with a governing headless service). Empty means the
	// per-endpoint name is the dashed IP: 10-1-2-3 or 2001-db8--1.
	Hostname string
	// Ready is the endpoint's ready condition; DNS lists only ready endpoints
	// unless the service publishes not-ready addresses.
	Ready bool
	// NodeName is the node the endpoint runs on; informational for DNS.
	NodeName string
}

// ReverseName is what an IP maps back to: <Hostname>.<Service>.<Namespace>.svc.<zone>
// when Hostname is set (a headless endpoint), <Service>.<Namespace>.svc.<zone> otherwise.
type ReverseName struct {
	// Namespace of the owning service.
	Namespace string
	// Service is the owning service's name.
	Service string
	// Hostname is the per-endpoint label, empty for a ClusterIP.
	Hostname string
}

// published reports whether DNS lists endpoint e of s.
func (s *Service) published(e *Endpoint) bool {
	return e.IP.IsValid() && (e.Ready || s.PublishNotReadyAddresses)
}

// endpointLabel is the per-endpoint DNS label of e: its hostname, else its dashed IP.
func endpointLabel(e *Endpoint) string {
	if e.Hostname != "" {
		return e.Hostname
	}
	return dashedIP(e.IP)
}

// dashedIP writes ip with dots or colons replaced by dashes, as Kubernetes
// names endpoints without a hostname (and as CoreDNS does for IPv6).
func dashedIP(ip netip.Addr) string {
	b := []byte(ip.Unmap().String())
	for i, c := range b {
		if c == '.' || c == ':' {
			b[i] = '-'
		}
	}
	return string(b)
}
