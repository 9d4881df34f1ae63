package tunnel

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/outpostmesh/outpost/pki"
)

// LAN announcement on the wire (one UDP datagram, broadcast to LANOptions.Port):
//
//	+-----------+------------------+-----------+-------------------+----------------+
//	| "OPLAN1"  | body len: u16 BE | body JSON | sig len: u16 BE   | signature      |
//	+-----------+------------------+-----------+-------------------+----------------+
//
// body is lanBody. The signature is made with the node's certificate key over
// SHA-256(lanSigContext || body); the certificate travels in the body and must verify
// against the cluster CA and name body.Node. Receivers drop announcements whose timestamp is
// more than MaxAge away from their clock or not newer than the last one from that node
// (replay), and those from themselves.
const (
	lanMagic      = "OPLAN1"
	lanSigContext = "outpost lan announcement v1\x00"
	lanMaxPacket  = 4096
)

type lanBody struct {
	Node string `json:"node"`
	// Port is the agent socket's UDP port; the address is the datagram's source IP.
	Port int `json:"port"`
	// TS is the send time in Unix nanoseconds.
	TS int64 `json:"ts"`
	// Cert is the node certificate (DER).
	Cert []byte `json:"cert"`
}

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
		c, err := listenBroadcast(o.Port)
		if err != nil {
			return nil, fmt.Errorf("tunnel: lan socket: %w", err)
		}
		l.conn = c
	}
	if len(l.targets) == 0 {
		l.targets = broadcastTargets(o.Port)
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

func encodeAnnouncement(certDER []byte, key crypto.PrivateKey, b lanBody) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tunnel: key %T cannot sign", key)
	}
	b.Cert = certDER
	body, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var sig []byte
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		sig, err = signer.Sign(rand.Reader, append([]byte(lanSigContext), body...), crypto.Hash(0))
	} else {
		sum := sha256.Sum256(append([]byte(lanSigContext), body...))
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(lanMagic)
	_ = binary.Write(&buf, binary.BigEndian, uint16(len(body)))
	buf.Write(body)
	_ = binary.Write(&buf, binary.BigEndian, uint16(len(sig)))
	buf.Write(sig)
	return buf.Bytes(), nil
}

func decodeAnnouncement(pkt []byte, roots *x509.CertPool) (*lanBody, error) {
	rest, ok := bytes.CutPrefix(pkt, []byte(lanMagic))
	if !ok {
		return nil, fmt.Errorf("%w: no magic", ErrBadAnnouncement)
	}
	body, rest, err := cutField(rest)
	if err != nil {
		return nil, err
	}
	sig, rest, err := cutField(rest)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: bad framing", ErrBadAnnouncement)
	}
	var b lanBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	cert, err := x509.ParseCertificate(b.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	if _, err := pki.VerifyNode(cert, nil, roots, b.Node); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnnouncement, err)
	}
	msg := append([]byte(lanSigContext), body...)
	sum := sha256.Sum256(msg)
	valid := false
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		valid = ecdsa.VerifyASN1(pub, sum[:], sig)
	case *rsa.PublicKey:
		valid = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	case ed25519.PublicKey:
		valid = ed25519.Verify(pub, msg, sig)
	}
	if !valid {
		return nil, fmt.Errorf("%w: bad signature", ErrBadAnnouncement)
	}
	if b.Port <= 0 || b.Port > 65535 {
		return nil, fmt.Errorf("%w: bad port", ErrBadAnnouncement)
	}
	return &b, nil
}

func cutField(b []byte) (field, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadAnnouncement)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, fmt.Errorf("%w: truncated", ErrBadAnnouncement)
	}
	return b[2 : 2+n], b[2+n:], nil
}

// broadcastTargets are the directed broadcast addresses of the host's IPv4 interfaces.
func broadcastTargets(port int) []net.Addr {
	var out []net.Addr
	ifs, _ := net.Interfaces()
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
