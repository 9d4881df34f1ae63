//go:build !linux

package tunnel

import (
	"context"
	"net"
	"strconv"

	"github.com/pion/transport/v4"
)

// listenBroadcast opens the LAN discovery socket through n (without SO_BROADCAST outside
// Linux: pass LANOptions.Conn there).
func listenBroadcast(n transport.Net, port int) (net.PacketConn, error) {
	return n.CreateListenConfig(&net.ListenConfig{}).ListenPacket(context.Background(), "udp4", ":"+strconv.Itoa(port))
}
