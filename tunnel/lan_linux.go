package tunnel

import (
	"context"
	"net"
	"strconv"
	"syscall"

	"github.com/pion/transport/v4"
)

// listenBroadcast opens the LAN discovery socket through n (so it lives where n's sockets
// do, e.g. a test's network namespace): SO_BROADCAST to send to broadcast addresses,
// SO_REUSEADDR so that several agents on one host all receive announcements.
func listenBroadcast(n transport.Net, port int) (net.PacketConn, error) {
	lc := n.CreateListenConfig(&net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
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
	}})
	return lc.ListenPacket(context.Background(), "udp4", ":"+strconv.Itoa(port))
}
