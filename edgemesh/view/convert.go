package view

import (
	"net/netip"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// defaultAffinityTimeout is Kubernetes' default ClientIP affinity timeout (3 hours).
const defaultAffinityTimeout = 10800 * time.Second

// FromAPI reduces a Service and its EndpointSlices to the agent's model. Slices of other
// services are ignored; endpoints that appear in several slices (a slice moved, or a dual-stack
// pair) are merged by address.
func FromAPI(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) *Service {
	s := &Service{
		Namespace:       svc.Namespace,
		Name:            svc.Name,
		Headless:        svc.Spec.ClusterIP == corev1.ClusterIPNone,
		PublishNotReady: svc.Spec.PublishNotReadyAddresses,
		Policy:          RoundRobin,
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		s.ExternalName = svc.Spec.ExternalName
	} else if !s.Headless {
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				s.ClusterIPs = append(s.ClusterIPs, a)
			}
		}
	}
	switch p := LBPolicy(svc.Annotations[LBPolicyAnnotation]); p {
	case Random, ConsistentHash, RoundRobin:
		s.Policy = p
	}
	s.NoFastPath = svc.Annotations[FastPathAnnotation] == "false"
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		s.SessionAffinity = true
		s.AffinityTimeout = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			s.AffinityTimeout = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.Port <= 0 || p.Port > 65535 {
			continue
		}
		s.Ports = append(s.Ports, ServicePort{Name: p.Name, Protocol: Protocol(p.Protocol), Port: uint16(p.Port)})
	}
	s.Endpoints = endpointsOf(svc, slices)
	return s
}

func endpointsOf(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) []Endpoint {
	byIP := map[netip.Addr]*Endpoint{}
	var order []netip.Addr
	for _, sl := range slices {
		if sl.Namespace != svc.Namespace || sl.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, e := range sl.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				continue // a malformed address loses only itself
			}
			ep := byIP[ip]
			if ep == nil {
				ep = &Endpoint{IP: ip, Ports: map[string]uint16{}}
				byIP[ip] = ep
				order = append(order, ip)
			}
			ep.Ready = e.Conditions.Ready == nil || *e.Conditions.Ready
			ep.Serving = ep.Ready
			if e.Conditions.Serving != nil {
				ep.Serving = *e.Conditions.Serving
			}
			ep.Terminating = e.Conditions.Terminating != nil && *e.Conditions.Terminating
			if e.NodeName != nil {
				ep.NodeName = *e.NodeName
			}
			if e.Hostname != nil {
				ep.Hostname = *e.Hostname
			}
			for _, p := range sl.Ports {
				if p.Port == nil || *p.Port <= 0 || *p.Port > 65535 {
					continue
				}
				name := ""
				if p.Name != nil {
					name = *p.Name
				}
				ep.Ports[name] = uint16(*p.Port)
			}
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Less(order[j]) })
	out := make([]Endpoint, 0, len(order))
	for _, ip := range order {
		out = append(out, *byIP[ip])
	}
	return out
}

// NodeFromAPI reduces a Node to the agent's model.
func NodeFromAPI(n *corev1.Node) Node {
	out := Node{Name: n.Name, Site: n.Labels[SiteLabel]}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out.InternalIP = ip
				break
			}
		}
	}
	return out
}
