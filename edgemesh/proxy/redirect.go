package proxy

import (
	"net/netip"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// Redirect tells the iptables package to send ClusterIP:Port/Protocol to the local ProxyPort.
type Redirect struct {
	// ClusterIP is the service's virtual IP.
	ClusterIP netip.Addr
	// Port is the service port on the ClusterIP.
	Port uint16
	// Protocol is view.TCP or view.UDP.
	Protocol view.Protocol
	// ProxyPort is the local port the proxy listens on for this service port.
	ProxyPort uint16
	// Direct, when set (Options.FastPath), are endpoints the kernel can reach on its own —
	// the best tier is this node or this site — of a service that asks for nothing only the
	// proxy can do (round robin, no session affinity): the rules may DNAT straight to them,
	// spread evenly, instead of redirecting to ProxyPort. Sorted.
	Direct []netip.AddrPort
}
