// Package services defines the service set both benchmark servers serve, so
// that the zone file given to CoreDNS and the catalog filled in outpostdns
// hold the same names and addresses.
package services

import (
	"fmt"
	"net/netip"
)

// Zone is the cluster domain served.
const Zone = "cluster.local"

// Namespaces is how many namespaces the services are spread over.
const Namespaces = 100

// Name returns the name and namespace of service i: svc<i>, ns<i mod 100>.
func Name(i int) (name, namespace string) {
	return fmt.Sprintf("svc%d", i), fmt.Sprintf("ns%d", i%Namespaces)
}

// FQDN returns svc<i>.ns<i mod 100>.svc.cluster.local. (with the dot).
func FQDN(i int) string {
	name, ns := Name(i)
	return name + "." + ns + ".svc." + Zone + "."
}

// IP returns the ClusterIP of service i: 10.96.0.0/12 from .1 on (up to a million services).
func IP(i int) netip.Addr {
	v := uint32(10)<<24 | uint32(96)<<16 | uint32(i+1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
