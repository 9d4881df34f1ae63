// Package view is the mesh agent's service view: Services, EndpointSlices and Nodes from a
// Kubernetes API (the apiserver, or edgecore's local metaserver), reduced to what DNS and the
// proxy need, persisted on disk so that a restart with no API still resolves and routes.
package view

import (
	"net/netip"
	"time"
)

// Protocol is a service port's transport protocol as Kubernetes spells it.
type Protocol string

const (
	TCP Protocol = "TCP"
	UDP Protocol = "UDP"
)

// LBPolicy selects how the proxy spreads connections over a service's endpoints.
type LBPolicy string

const (
	// RoundRobin takes endpoints in turn (the default).
	RoundRobin LBPolicy = "round-robin"
	// Random picks uniformly at random.
	Random LBPolicy = "random"
	// ConsistentHash maps a client IP to an endpoint on a hash ring, so a client keeps its
	// endpoint while the set changes little.
	ConsistentHash LBPolicy = "consistent-hash"
)

// LBPolicyAnnotation on a Service selects its LBPolicy.
const LBPolicyAnnotation = "outpost.dev/lb-policy"

// FastPathAnnotation "false" on a Service keeps its same-site connections on the proxy (with
// retries and outlier ejection) instead of the kernel's DNAT fast path.
const FastPathAnnotation = "outpost.dev/fast-path"

// SiteLabel on a Node names the site it belongs to; endpoints on nodes of the agent's own site
// are preferred to those of other sites.
const SiteLabel = "outpost.dev/site"

// Service is one Kubernetes Service with its endpoints, as the agent sees it. Values are
// immutable once published: an update replaces the *Service.
type Service struct {
	Namespace, Name string
	// ClusterIPs are the virtual IPs (empty for headless and ExternalName services).
	ClusterIPs []netip.Addr
	// Headless is clusterIP: None.
	Headless bool
	// ExternalName is set for type ExternalName.
	ExternalName string
	// Ports are the service ports.
	Ports []ServicePort
	// SessionAffinity is spec.sessionAffinity ClientIP; AffinityTimeout its timeout.
	SessionAffinity bool
	AffinityTimeout time.Duration
	// Policy is the load-balancing policy (from LBPolicyAnnotation; RoundRobin by default).
	Policy LBPolicy
	// PublishNotReady is spec.publishNotReadyAddresses.
	PublishNotReady bool
	// NoFastPath is FastPathAnnotation "false": the proxy carries every connection.
	NoFastPath bool `json:",omitempty"`
	// Endpoints are the backends, each with the ports it serves.
	Endpoints []Endpoint
}

// ServicePort is one port of a Service.
type ServicePort struct {
	// Name is the port's name ("" for a single unnamed port).
	Name string
	// Protocol is TCP or UDP (SCTP ports are kept but not proxied).
	Protocol Protocol
	// Port is the service port on the ClusterIP.
	Port uint16
}

// Endpoint is one backend address.
type Endpoint struct {
	IP netip.Addr
	// Ports maps a service port name to the endpoint's port for it (from the EndpointSlice).
	Ports map[string]uint16
	// NodeName is the node running the endpoint ("" if unknown).
	NodeName string
	// Hostname is the endpoint's hostname (headless per-pod DNS names).
	Hostname string
	// Ready, Serving and Terminating are the EndpointSlice conditions.
	Ready, Serving, Terminating bool
}

// Key is "namespace/name".
func (s *Service) Key() string { return s.Namespace + "/" + s.Name }

// Port returns the service port with the given number and protocol.
func (s *Service) Port(port uint16, proto Protocol) (ServicePort, bool) {
	for _, p := range s.Ports {
		if p.Port == port && p.Protocol == proto {
			return p, true
		}
	}
	return ServicePort{}, false
}

// Node is what the agent needs to know about a node.
type Node struct {
	Name string
	// Site is the node's SiteLabel ("" if none).
	Site string
	// InternalIP is the node's InternalIP address, if any.
	InternalIP netip.Addr
}
