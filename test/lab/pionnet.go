package lab

import (
	"context"
	"net"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Net returns a pion transport.Net whose sockets live in the host's namespace and whose
// interfaces are the namespace's, so in-process ICE/TURN/QUIC agents in a test act as if they
// ran on that host.
func (h *Host) Net() (transport.Net, error) {
	var base *stdnet.Net
	err := h.Do(func() error {
		var err error
		base, err = stdnet.NewNet()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &nsNet{Net: base, h: h}, nil
}

type nsNet struct {
	*stdnet.Net
	h *Host
}

// in runs open inside the namespace and returns what it opened.
func in[T any](h *Host, open func() (T, error)) (T, error) {
	var v T
	err := h.Do(func() error {
		var err error
		v, err = open()
		return err
	})
	return v, err
}

func (n *nsNet) ListenPacket(network, address string) (net.PacketConn, error) {
	return in(n.h, func() (net.PacketConn, error) { return n.Net.ListenPacket(network, address) })
}

func (n *nsNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n.h, func() (transport.UDPConn, error) { return n.Net.ListenUDP(network, laddr) })
}

func (n *nsNet) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return in(n.h, func() (transport.TCPListener, error) { return n.Net.ListenTCP(network, laddr) })
}

func (n *nsNet) Dial(network, address string) (net.Conn, error) {
	return in(n.h, func() (net.Conn, error) { return n.Net.Dial(network, address) })
}

func (n *nsNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return in(n.h, func() (transport.UDPConn, error) { return n.Net.DialUDP(network, laddr, raddr) })
}

func (n *nsNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return in(n.h, func() (transport.TCPConn, error) { return n.Net.DialTCP(network, laddr, raddr) })
}

func (n *nsNet) CreateDialer(d *net.Dialer) transport.Dialer { return nsDialer{d: d, h: n.h} }

func (n *nsNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	return nsListenConfig{lc: lc, h: n.h}
}

type nsDialer struct {
	d *net.Dialer
	h *Host
}

func (d nsDialer) Dial(network, address string) (net.Conn, error) {
	return in(d.h, func() (net.Conn, error) { return d.d.Dial(network, address) })
}

type nsListenConfig struct {
	lc *net.ListenConfig
	h  *Host
}

func (l nsListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return in(l.h, func() (net.Listener, error) { return l.lc.Listen(ctx, network, address) })
}

func (l nsListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return in(l.h, func() (net.PacketConn, error) { return l.lc.ListenPacket(ctx, network, address) })
}
