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
}
