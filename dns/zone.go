package dns

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// answerZone fills m for q, a name inside the zone split into zn.
//
// The zone's tree, right to left:
//
//	<zone>                                    apex: SOA
//	dns-version.<zone>                        TXT "1.1.0"
//	svc.<zone>                                empty non-terminal
//	<ns>.svc.<zone>                           empty non-terminal, if the namespace has services
//	<svc>.<ns>.svc.<zone>                     A/AAAA, SRV (all named ports), CNAME (ExternalName)
//	<host>.<svc>.<ns>.svc.<zone>              A/AAAA of a headless endpoint
//	_<proto>.<svc>.<ns>.svc.<zone>            empty non-terminal, if a named port has proto
//	_<port>._<proto>.<svc>.<ns>.svc.<zone>    SRV
func (h *Handler) answerZone(m *dns.Msg, q dns.Question, zn zoneName) {
	m.Authoritative = true
	if zn.deep {
		h.nxdomain(m)
		return
	}
	l := &zn.labels
	switch {
	case zn.n == 0:
		if q.Qtype == dns.TypeSOA {
			m.Answer = append(m.Answer, h.soa)
			return
		}
		h.nodata(m)
		return
	case zn.n == 1 && l[0] == "dns-version":
		if q.Qtype == dns.TypeTXT {
			m.Answer = append(m.Answer, h.version)
			return
		}
		h.nodata(m)
		return
	case l[0] != "svc":
		h.nxdomain(m)
		return
	case zn.n == 1:
		h.nodata(m)
		return
	case zn.n == 2:
		if h.catalog.HasNamespace(l[1]) {
			h.nodata(m)
		} else {
			h.nxdomain(m)
		}
		return
	}

	svc, ok := h.catalog.Service(l[1], l[2])
	if !ok {
		h.nxdomain(m)
		return
	}
	switch {
	case zn.n == 3:
		h.answerService(m, q, svc)
	case zn.n == 4 && strings.HasPrefix(l[3], "_"):
		if svc.Type != ExternalName && hasProto(svc, l[3][1:]) {
			h.nodata(m)
		} else {
			h.nxdomain(m)
		}
	case zn.n == 4:
		h.answerEndpoint(m, q, svc, l[3])
	case zn.n == 5 && strings.HasPrefix(l[3], "_") && strings.HasPrefix(l[4], "_") && svc.Type != ExternalName:
		p := findPort(svc, l[4][1:], l[3][1:])
		if p == nil {
			h.nxdomain(m)
			return
		}
		if q.Qtype != dns.TypeSRV {
			h.nodata(m)
			return
		}
		h.appendSRV(m, q.Name, svc, p)
	default:
		h.nxdomain(m)
	}
}

// answerService answers <svc>.<ns>.svc.<zone>.
func (h *Handler) answerService(m *dns.Msg, q dns.Question, svc *Service) {
	switch svc.Type {
	case ExternalName:
		h.answerExternalName(m, q, svc)
		return
	case ClusterIP:
		switch q.Qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
			for _, ip := range svc.ClusterIPs {
				if rr := h.addrRR(q.Name, ip, q.Qtype); rr != nil {
					m.Answer = append(m.Answer, rr)
				}
			}
		case dns.TypeSRV:
			for i := range svc.Ports {
				if svc.Ports[i].Name != "" {
					h.appendSRV(m, q.Name, svc, &svc.Ports[i])
				}
			}
		}
	case Headless:
		switch q.Qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
			for i := range svc.Endpoints {
				e := &svc.Endpoints[i]
				if !svc.published(e) {
					continue
				}
				if rr := h.addrRR(q.Name, e.IP, q.Qtype); rr != nil {
					m.Answer = append(m.Answer, rr)
				}
			}
		case dns.TypeSRV:
			for i := range svc.Ports {
				if svc.Ports[i].Name != "" {
					h.appendSRV(m, q.Name, svc, &svc.Ports[i])
				}
			}
		}
	}
	if len(m.Answer) == 0 {
		h.nodata(m)
	}
}

// answerEndpoint answers <host>.<svc>.<ns>.svc.<zone> of a headless service.
// It scans the service's endpoints: a service's endpoint count is small next
// to the catalog, and the common query (the service name) never gets here.
func (h *Handler) answerEndpoint(m *dns.Msg, q dns.Question, svc *Service, label string) {
	if svc.Type != Headless {
		h.nxdomain(m)
		return
	}
	var dashed netip.Addr
	parsed := false
	found := false
	for i := range svc.Endpoints {
		e := &svc.Endpoints[i]
		if !svc.published(e) {
			continue
		}
		if e.Hostname != "" {
			if e.Hostname != label {
				continue
			}
		} else {
			if !parsed {
				dashed, _ = parseDashedIP(label)
				parsed = true
			}
			if !dashed.IsValid() || dashed != e.IP {
				continue
			}
		}
		found = true
		if rr := h.addrRR(q.Name, e.IP, q.Qtype); rr != nil {
			m.Answer = append(m.Answer, rr)
		}
	}
	switch {
	case !found:
		h.nxdomain(m)
	case len(m.Answer) == 0:
		h.nodata(m)
	}
}

// answerExternalName answers with a CNAME to the external name; for address
// queries the target is resolved too (one level, in the zone or upstream),
// as stub resolvers expect the whole chain.
func (h *Handler) answerExternalName(m *dns.Msg, q dns.Question, svc *Service) {
	target := dns.Fqdn(svc.ExternalName)
	if svc.ExternalName == "" || target == "." {
		h.nodata(m)
		return
	}
	m.Answer = append(m.Answer, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: h.ttl},
		Target: target,
	})
	if q.Qtype == dns.TypeCNAME || q.Qtype == dns.TypeANY {
		return
	}
	sub := new(dns.Msg)
	sub.SetQuestion(target, q.Qtype)
	sub.RecursionDesired = true
	tm := new(dns.Msg)
	if zn, ok := splitZone(target, h.zone); ok {
		if zn.n == 3 && zn.labels[0] == "svc" {
			if s, ok := h.catalog.Service(zn.labels[1], zn.labels[2]); ok && s.Type == ExternalName {
				return // no chains of ExternalNames
			}
		}
		h.answerZone(tm, sub.Question[0], zn)
	} else {
		h.forward(tm, sub)
	}
	if tm.Rcode == dns.RcodeSuccess || tm.Rcode == dns.RcodeNameError {
		m.Answer = append(m.Answer, tm.Answer...)
		m.Rcode = tm.Rcode
		if len(tm.Answer) == 0 {
			m.Ns = append(m.Ns, tm.Ns...)
		}
	}
}

// answerReverse answers a PTR name of ip and reports whether it did: unknown
// IPs outside ReverseCIDRs are left to the upstreams.
func (h *Handler) answerReverse(m *dns.Msg, q dns.Question, ip netip.Addr) bool {
	rn, ok := h.catalog.ReverseLookup(ip)
	if !ok {
		for _, p := range h.reverse {
			if p.Contains(ip) {
				m.Authoritative = true
				m.Rcode = dns.RcodeNameError
				m.Ns = append(m.Ns, h.reverseSOA(ip))
				return true
			}
		}
		return false
	}
	m.Authoritative = true
	if q.Qtype != dns.TypePTR && q.Qtype != dns.TypeANY {
		m.Ns = append(m.Ns, h.reverseSOA(ip))
		return true
	}
	target := rn.Service + "." + rn.Namespace + ".svc." + h.zone
	if rn.Hostname != "" {
		target = rn.Hostname + "." + target
	}
	m.Answer = append(m.Answer, &dns.PTR{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: h.ttl},
		Ptr: target,
	})
	return true
}

// reverseSOA is the SOA for negative reverse answers, owned by the arpa zone
// of the address family.
func (h *Handler) reverseSOA(ip netip.Addr) dns.RR {
	soa := *h.soa
	soa.Hdr.Name = arpaV6[1:]
	if ip.Is4() {
		soa.Hdr.Name = arpaV4[1:]
	}
	return &soa
}

// appendSRV adds the SRV records of port p of svc under owner, and the target
// addresses in the additional section. Weights share 100 among the targets.
func (h *Handler) appendSRV(m *dns.Msg, owner string, svc *Service, p *Port) {
	base := svc.Name + "." + svc.Namespace + ".svc." + h.zone
	if svc.Type != Headless {
		m.Answer = append(m.Answer, h.srvRR(owner, base, p.Port, 100))
		for _, ip := range svc.ClusterIPs {
			m.Extra = append(m.Extra, h.addrRR(base, ip, dns.TypeANY))
		}
		return
	}
	port := p.EndpointPort
	if port == 0 {
		port = p.Port
	}
	n := 0
	for i := range svc.Endpoints {
		if svc.published(&svc.Endpoints[i]) {
			n++
		}
	}
	if n == 0 {
		return
	}
	weight := uint16(max(100/n, 1))
	for i := range svc.Endpoints {
		e := &svc.Endpoints[i]
		if !svc.published(e) {
			continue
		}
		target := endpointLabel(e) + "." + base
		m.Answer = append(m.Answer, h.srvRR(owner, target, port, weight))
		m.Extra = append(m.Extra, h.addrRR(target, e.IP, dns.TypeANY))
	}
}

func (h *Handler) srvRR(owner, target string, port, weight uint16) *dns.SRV {
	return &dns.SRV{
		Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: h.ttl},
		Priority: 0, Weight: weight, Port: port, Target: target,
	}
}

// addrRR returns the A or AAAA record of ip under owner if ip's family matches
// qtype (TypeANY matches both), else nil.
func (h *Handler) addrRR(owner string, ip netip.Addr, qtype uint16) dns.RR {
	hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: h.ttl}
	switch {
	case ip.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		hdr.Rrtype = dns.TypeA
		b := ip.As4()
		return &dns.A{Hdr: hdr, A: net.IP(b[:])}
	case ip.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		hdr.Rrtype = dns.TypeAAAA
		b := ip.As16()
		return &dns.AAAA{Hdr: hdr, AAAA: net.IP(b[:])}
	}
	return nil
}

func (h *Handler) nxdomain(m *dns.Msg) {
	m.Rcode = dns.RcodeNameError
	m.Answer = m.Answer[:0]
	m.Ns = append(m.Ns, h.soa)
}

func (h *Handler) nodata(m *dns.Msg) { m.Ns = append(m.Ns, h.soa) }

func hasProto(svc *Service, proto string) bool {
	for i := range svc.Ports {
		if svc.Ports[i].Name != "" && strings.EqualFold(svc.Ports[i].Protocol, proto) {
			return true
		}
	}
	return false
}

func findPort(svc *Service, name, proto string) *Port {
	for i := range svc.Ports {
		p := &svc.Ports[i]
		if p.Name == name && strings.EqualFold(p.Protocol, proto) {
			return p
		}
	}
	return nil
}
