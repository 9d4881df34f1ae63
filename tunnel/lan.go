package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"
)

// lan is LAN discovery: periodic signed announcements (wire format in announce.go) and a
// reader that dials the peers it hears (when controlling).
type lan struct {
	a       *Agent
	conn    net.PacketConn
	targets []net.Addr
	mu      sync.Mutex
	last    map[string]int64
	once    sync.Once
}

func (a *Agent) newLAN() (*lan, error) {
	o := a.opts.LAN
	l := &lan{a: a, conn: o.Conn, targets: o.Targets, last: map[string]int64{}}
	if l.conn == nil {
		c, err := listenBroadcast(a.net, o.Port)
		if err != nil {
			return nil, fmt.Errorf("tunnel: lan socket: %w", err)
		}
		l.conn = c
	}
	if len(l.targets) == 0 {
		l.targets = broadcastTargets(a.net, o.Port)
	}
	return l, nil
}

func (l *lan) close() { l.once.Do(func() { _ = l.conn.Close() }) }

// run announces periodically and reads announcements until the agent closes.
func (l *lan) run() {
	a := l.a
	var wg sync.WaitGroup
	wg.Go(l.readLoop)
	defer wg.Wait()
	t := time.NewTicker(a.opts.LAN.Interval)
	defer t.Stop()
	for {
		l.announce()
		select {
		case <-a.ctx.Done():
			l.close()
			return
		case <-t.C:
		}
	}
}

func (l *lan) announce() {
	a := l.a
	udp, _ := a.sock.LocalAddr().(*net.UDPAddr)
	if udp == nil {
		return
	}
	pkt, err := encodeAnnouncement(a.opts.Cert.Certificate[0], a.opts.Cert.PrivateKey, lanBody{
		Node: a.opts.NodeName, Port: udp.Port, TS: time.Now().UnixNano(),
	})
	if err != nil {
		a.log.Error(err, "Encoding LAN announcement")
		return
	}
	for _, t := range l.targets {
		if _, err := l.conn.WriteTo(pkt, t); err != nil {
			a.log.V(2).Info("Sending LAN announcement", "to", t.String(), "err", err)
		}
	}
}

func (l *lan) readLoop() {
	buf := make([]byte, lanMaxPacket)
	for {
		n, from, err := l.conn.ReadFrom(buf)
		if err != nil {
			if l.a.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.handle(buf[:n], from)
	}
}

func (l *lan) handle(pkt []byte, from net.Addr) {
	a := l.a
	body, err := decodeAnnouncement(pkt, a.opts.Roots)
	if err != nil {
		a.metrics.lan.WithLabelValues("invalid").Inc()
		a.log.V(2).Info("Dropping LAN announcement", "from", from.String(), "err", err)
		return
	}
	if body.Node == a.opts.NodeName {
		a.metrics.lan.WithLabelValues("self").Inc()
		return
	}
	age := time.Since(time.Unix(0, body.TS))
	if age > a.opts.LAN.MaxAge || age < -a.opts.LAN.MaxAge {
		a.metrics.lan.WithLabelValues("replay").Inc()
		return
	}
	l.mu.Lock()
	fresh := body.TS > l.last[body.Node]
	if fresh {
		l.last[body.Node] = body.TS
	}
	l.mu.Unlock()
	if !fresh {
		a.metrics.lan.WithLabelValues("replay").Inc()
		return
	}
	src, ok := from.(*net.UDPAddr)
	if !ok {
		return
	}
	a.metrics.lan.WithLabelValues("ok").Inc()
	p := a.peer(body.Node)
	if p == nil {
		return
	}
	addr := &net.UDPAddr{IP: src.IP, Port: body.Port}
	p.mu.Lock()
	p.lanAddr = addr
	need := p.direct == nil && p.controlling && !a.opts.DisableDirect
	p.mu.Unlock()
	if need {
		p.dialLAN(addr)
	}
}

// dialLAN (controlling side) connects host to host to a peer heard on the LAN.
func (p *peer) dialLAN(addr *net.UDPAddr) {
	p.mu.Lock()
	if p.closed || p.dialingLAN || p.direct != nil {
		p.mu.Unlock()
		return
	}
	p.dialingLAN = true
	p.mu.Unlock()
	a := p.a
	a.goAsync(func() {
		defer func() {
			p.mu.Lock()
			p.dialingLAN = false
			p.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(a.ctx, a.opts.HandshakeTimeout)
		defer cancel()
		conn, err := a.tr.Dial(ctx, addr, a.clientTLS(p.name), a.quicConfig())
		if err != nil {
			a.log.V(1).Info("LAN dial failed", "peer", p.name, "addr", addr.String(), "err", err)
			return
		}
		a.attach(conn, pathInfo{kind: PathDirect, localCand: "host", remoteCand: "host"})
	})
}

// broadcastTargets are the directed broadcast addresses of the IPv4 interfaces n sees (the
// host's, or a test namespace's).
func broadcastTargets(n transport.Net, port int) []net.Addr {
	var out []net.Addr
	ifs, _ := n.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil {
				continue
			}
			if ones, bits := ipn.Mask.Size(); bits == 0 || bits-ones < 2 {
				continue // a /31 or /32 (e.g. a node-local address) has no broadcast address
			}
			ip := ipn.IP.To4()
			bc := make(net.IP, 4)
			for i := range bc {
				bc[i] = ip[i] | ^ipn.Mask[len(ipn.Mask)-4+i]
			}
			out = append(out, &net.UDPAddr{IP: bc, Port: port})
		}
	}
	return out
}
