// Package dns is the mesh agent's DNS server: it answers for the cluster
// domain (cluster.local by default) from a service view it does not own, and
// forwards every other name to upstream resolvers through a TTL-honouring cache.
//
// The records follow the Kubernetes DNS-Based Service Discovery specification
// (schema 1.1.0):
//
//   - A/AAAA for <svc>.<ns>.svc.<zone>: the ClusterIPs, or for a headless
//     service the IPs of its ready endpoints;
//   - A/AAAA for <hostname>.<svc>.<ns>.svc.<zone> of a headless service, where
//     hostname is the endpoint's hostname or its dashed IP (10-1-2-3);
//   - SRV for _<port>._<proto>.<svc>.<ns>.svc.<zone> and for the bare service name;
//   - CNAME for ExternalName services (the target is chased for A/AAAA);
//   - PTR for ClusterIPs and headless endpoint IPs (in-addr.arpa, ip6.arpa);
//   - TXT dns-version.<zone> = "1.1.0";
//   - NXDOMAIN with the zone's SOA for unknown names, NODATA (NOERROR, no
//     answer, SOA in authority) for existing names asked with another type,
//     including the empty non-terminals svc.<zone> and <ns>.svc.<zone>.
//
// The package never imports the rest of the repository: the agent hands it a
// [Catalog] (the read-only service view), and [MemoryCatalog] is an in-memory,
// concurrency-safe implementation the agent may use as its index.
//
// The entry points are [NewHandler] (a miekg/dns Handler, usable on its own)
// and [NewServer] (the handler on UDP and TCP sockets the caller opens or lets
// the server open).
package dns
