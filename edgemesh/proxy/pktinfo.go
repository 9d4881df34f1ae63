package proxy

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
)

// pktinfoConn is a UDP proxy socket that answers each client from the address the client's
// datagrams arrived at. REDIRECT rewrites a ClusterIP destination to a local address (127.0.0.1
// in OUTPUT, the interface's primary address in PREROUTING); a reply that left from another
// local address — which the kernel picks by routing when the socket is bound to the wildcard —
// would not match the connection's conntrack entry, would not be translated back to the
// ClusterIP, and the client would drop it. So the socket asks for IP_PKTINFO/IPV6_PKTINFO on
// receive and sets the source with the same control message on send.
type pktinfoConn struct {
	*net.UDPConn
	oob []byte // receive control buffer; ReadFromUDPAddrPort has a single caller per socket

	mu    sync.RWMutex
	reply map[netip.AddrPort][]byte // client → control message that sets our source address
}

// maxReplyEntries bounds the per-client table; past it the table starts over (clients that
// keep talking are re-learnt from their next datagram).
const maxReplyEntries = 1 << 14

func listenPktinfo(addr netip.AddrPort) (PacketConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		// A dual-stack socket needs both: IPv4 (mapped) datagrams carry IP_PKTINFO.
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
		if serr == nil && !addr.Addr().Is4() {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO, 1)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("proxy: enable packet info: %w", err)
	}
	return &pktinfoConn{UDPConn: c, oob: make([]byte, 128), reply: map[netip.AddrPort][]byte{}}, nil
}

func (c *pktinfoConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, oobn, _, from, err := c.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return n, from, err
	}
	if dst, ok := parseDst(c.oob[:oobn]); ok {
		c.mu.RLock()
		known := c.reply[from]
		c.mu.RUnlock()
		if known == nil || !sameSource(known, dst) {
			msg := sourceControl(dst)
			c.mu.Lock()
			if len(c.reply) >= maxReplyEntries {
				c.reply = map[netip.AddrPort][]byte{}
			}
			c.reply[from] = msg
			c.mu.Unlock()
		}
	}
	return n, from, nil
}

func (c *pktinfoConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	c.mu.RLock()
	oob := c.reply[to]
	c.mu.RUnlock()
	if oob == nil {
		return c.UDPConn.WriteToUDPAddrPort(b, to)
	}
	n, _, err := c.WriteMsgUDPAddrPort(b, oob, to)
	return n, err
}

// parseDst finds the datagram's destination address in IP_PKTINFO or IPV6_PKTINFO.
func parseDst(oob []byte) (netip.Addr, bool) {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := cmsgHeader(oob)
		if h.len < syscall.SizeofCmsghdr || h.len > len(oob) {
			return netip.Addr{}, false
		}
		data := oob[syscall.SizeofCmsghdr:h.len]
		switch {
		case h.level == syscall.IPPROTO_IP && h.typ == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }: addr is the
			// header's destination.
			return netip.AddrFrom4([4]byte(data[8:12])), true
		case h.level == syscall.IPPROTO_IPV6 && h.typ == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; unsigned ifindex; }
			a := netip.AddrFrom16([16]byte(data[:16]))
			return a.Unmap(), true
		}
		oob = oob[cmsgAlign(h.len):]
	}
	return netip.Addr{}, false
}

// sourceControl is the control message that sends from src.
func sourceControl(src netip.Addr) []byte {
	if src.Is4() {
		b := make([]byte, syscall.CmsgSpace(syscall.SizeofInet4Pktinfo))
		putCmsgHeader(b, syscall.CmsgLen(syscall.SizeofInet4Pktinfo), syscall.IPPROTO_IP, syscall.IP_PKTINFO)
		a := src.As4()
		copy(b[syscall.SizeofCmsghdr+4:], a[:]) // spec_dst: the source to use
		return b
	}
	b := make([]byte, syscall.CmsgSpace(syscall.SizeofInet6Pktinfo))
	putCmsgHeader(b, syscall.CmsgLen(syscall.SizeofInet6Pktinfo), syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO)
	a := src.As16()
	copy(b[syscall.SizeofCmsghdr:], a[:])
	return b
}

// sameSource reports whether msg (from sourceControl) sets src.
func sameSource(msg []byte, src netip.Addr) bool {
	if src.Is4() {
		a := src.As4()
		return len(msg) >= syscall.SizeofCmsghdr+8 && string(msg[syscall.SizeofCmsghdr+4:syscall.SizeofCmsghdr+8]) == string(a[:])
	}
	a := src.As16()
	return len(msg) >= syscall.SizeofCmsghdr+16 && string(msg[syscall.SizeofCmsghdr:syscall.SizeofCmsghdr+16]) == string(a[:])
}

type cmsgHdr struct {
	len        int
	level, typ int32
}

// cmsgHeader decodes struct cmsghdr { size_t len; int level; int type; } (Linux, 64-bit).
func cmsgHeader(b []byte) cmsgHdr {
	return cmsgHdr{
		len:   int(binary.NativeEndian.Uint64(b[0:8])),
		level: int32(binary.NativeEndian.Uint32(b[8:12])),
		typ:   int32(binary.NativeEndian.Uint32(b[12:16])),
	}
}

func putCmsgHeader(b []byte, length int, level, typ int32) {
	binary.NativeEndian.PutUint64(b[0:8], uint64(length))
	binary.NativeEndian.PutUint32(b[8:12], uint32(level))
	binary.NativeEndian.PutUint32(b[12:16], uint32(typ))
}

func cmsgAlign(n int) int { return (n + 7) &^ 7 }
