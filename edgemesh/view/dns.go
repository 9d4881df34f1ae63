package view

import "github.com/outpostmesh/outpost/dns"

// toDNS is the DNS server's view of a service.
func toDNS(s *Service) dns.Service {
	d := dns.Service{
		Name:                     s.Name,
		Namespace:                s.Namespace,
		ClusterIPs:               s.ClusterIPs,
		ExternalName:             s.ExternalName,
		PublishNotReadyAddresses: s.PublishNotReady,
	}
	switch {
	case s.ExternalName != "":
		d.Type = dns.ExternalName
	case s.Headless:
		d.Type = dns.Headless
	default:
		d.Type = dns.ClusterIP
	}
	for _, p := range s.Ports {
		dp := dns.Port{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port}
		// A headless service's SRV records carry the endpoints' port; take the first.
		for _, e := range s.Endpoints {
			if ep, ok := e.Ports[p.Name]; ok {
				dp.EndpointPort = ep
				break
			}
		}
		d.Ports = append(d.Ports, dp)
	}
	for _, e := range s.Endpoints {
		d.Endpoints = append(d.Endpoints, dns.Endpoint{IP: e.IP, Hostname: e.Hostname, Ready: e.Ready, NodeName: e.NodeName})
	}
	return d
}
