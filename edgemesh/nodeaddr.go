package edgemesh

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// nodeLocalLink is the dummy interface that carries the node-local DNS address.
const nodeLocalLink = "outpost0"

// nodeAddr is the node-local address the agent created, and how to take it away.
type nodeAddr struct {
	link    netlink.Link
	addr    *netlink.Addr
	created bool // we created link (and so delete it)
}

// ensureNodeLocalIP puts ip/32 on a dummy interface, or on loopback when the kernel has no
// dummy driver (LAB.md: these kernels do not). An address that is already there is reused and
// left in place at shutdown.
func ensureNodeLocalIP(ip netip.Addr) (*nodeAddr, error) {
	bits := 32
	if ip.Is6() {
		bits = 128
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
	na := &nodeAddr{addr: addr}
	link, err := netlink.LinkByName(nodeLocalLink)
	if err != nil {
		dummy := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: nodeLocalLink}}
		if err := netlink.LinkAdd(dummy); err == nil {
			na.created = true
			link = dummy
		} else if link, err = netlink.LinkByName("lo"); err != nil {
			return nil, fmt.Errorf("edgemesh: node-local address: no dummy interface and no loopback: %w", err)
		}
	}
	na.link = link
	if err := netlink.LinkSetUp(link); err != nil {
		na.remove()
		return nil, fmt.Errorf("edgemesh: node-local address: %w", err)
	}
	if err := netlink.AddrAdd(link, addr); err != nil {
		if !errors.Is(err, syscall.EEXIST) {
			na.remove()
			return nil, fmt.Errorf("edgemesh: add %s to %s: %w", ip, link.Attrs().Name, err)
		}
		na.addr = nil // it was there before us: not ours to remove
	}
	return na, nil
}

// remove takes away what ensureNodeLocalIP created.
func (na *nodeAddr) remove() error {
	if na == nil {
		return nil
	}
	if na.created {
		return netlink.LinkDel(na.link)
	}
	if na.addr != nil && na.link != nil {
		return netlink.AddrDel(na.link, na.addr)
	}
	return nil
}
