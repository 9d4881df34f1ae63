//go:build !linux

package tunnel

import (
	"net"
	"strconv"
)

// listenBroadcast opens the LAN discovery socket (without SO_BROADCAST outside Linux: pass
// LANOptions.Conn there).
func listenBroadcast(port int) (net.PacketConn, error) {
	return net.ListenPacket("udp4", ":"+strconv.Itoa(port))
}
