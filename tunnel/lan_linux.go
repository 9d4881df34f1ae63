package tunnel

import (
	"context"
	"net"
	"strconv"
	"syscall"
)

// listenBroadcast opens the LAN discovery socket: SO_BROADCAST to send to broadcast
// addresses, SO_REUSEADDR so that several agents on one host all receive announcements.
func listenBroadcast(port int) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1); serr != nil {
				return
			}
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return lc.ListenPacket(context.Background(), "udp4", ":"+strconv.Itoa(port))
}
