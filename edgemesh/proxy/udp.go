package proxy

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// udpBufSize holds the largest UDP datagram.
const udpBufSize = 64 << 10

// maxPending bounds the datagrams a flow queues while its backend is being dialed.
const maxPending = 16

var udpBufs = sync.Pool{New: func() any { b := make([]byte, udpBufSize); return &b }}

// udpPort is the UDP side of a servicePort: the proxy socket and one flow per client
// address. One goroutine reads the socket and forwards to the flows' backends; each flow
// has a goroutine that dials its backend, then reads replies and writes them back from the
// proxy socket; a janitor closes idle flows.
type udpPort struct {
	pc PacketConn

	mu       sync.Mutex
	stopping bool
	flows    map[netip.AddrPort]*udpFlow
}

// udpFlow is one client address's association with a backend conn.
type udpFlow struct {
	client     netip.AddrPort
	conn       atomic.Pointer[net.Conn] // set once dialed
	lastActive atomic.Int64             // unix nanoseconds

	mu      sync.Mutex
	closed  bool
	pending [][]byte // datagrams received while dialing
}

func newUDPPort(pc PacketConn) *udpPort {
	return &udpPort{pc: pc, flows: make(map[netip.AddrPort]*udpFlow)}
}

func (f *udpFlow) touch() { f.lastActive.Store(time.Now().UnixNano()) }

// close closes the flow's backend conn, which ends its goroutine.
func (f *udpFlow) close() {
	f.mu.Lock()
	f.closed = true
	f.pending = nil
	f.mu.Unlock()
	if c := f.conn.Load(); c != nil {
		(*c).Close()
	}
}

// send forwards one datagram from the client, or queues a copy while dialing.
func (f *udpFlow) send(b []byte) (int, error) {
	f.touch()
	if c := f.conn.Load(); c != nil {
		return (*c).Write(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.conn.Load(); c != nil {
		return (*c).Write(b)
	}
	if !f.closed && len(f.pending) < maxPending {
		f.pending = append(f.pending, bytes.Clone(b))
	}
	return 0, nil
}

// close stops new flows, closes the socket and every flow.
func (u *udpPort) close() {
	u.mu.Lock()
	u.stopping = true
	flows := u.flows
	u.flows = nil
	u.mu.Unlock()
	u.pc.Close()
	for _, f := range flows {
		f.close()
	}
}

// serveUDP reads datagrams from the proxy socket until it closes; it owns the flows and
// the janitor.
func (sp *servicePort) serveUDP() {
	defer sp.wg.Done()
	sp.wg.Add(1)
	go sp.udpJanitor()
	u := sp.udp
	buf := make([]byte, udpBufSize)
	for {
		n, from, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if sp.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			sp.log.V(2).Info("UDP read failed", "err", err)
			continue
		}
		f := sp.udpFlow(from)
		if f == nil {
			continue
		}
		if w, err := f.send(buf[:n]); err == nil {
			sp.m.toBackend.Add(float64(w))
		}
	}
}

// udpFlow returns the flow of client, starting one if there is room.
func (sp *servicePort) udpFlow(client netip.AddrPort) *udpFlow {
	u := sp.udp
	u.mu.Lock()
	defer u.mu.Unlock()
	if f := u.flows[client]; f != nil {
		return f
	}
	if u.stopping {
		return nil
	}
	if len(u.flows) >= sp.opts.MaxUDPFlows {
		sp.m.flowLimit.Inc()
		return nil
	}
	f := &udpFlow{client: client}
	f.touch()
	u.flows[client] = f
	sp.m.udpFlows.Inc()
	sp.m.active.Inc()
	sp.wg.Add(1)
	go sp.runFlow(f)
	return f
}

// runFlow dials the flow's backend, flushes what queued meanwhile, then copies replies
// back to the client until the backend conn is closed (idle, Sync, Close) or fails.
func (sp *servicePort) runFlow(f *udpFlow) {
	defer sp.wg.Done()
	defer sp.removeFlow(f)
	c, b, err := sp.connect(f.client.Addr().Unmap())
	if err != nil {
		sp.countFailure(err)
		sp.log.V(2).Info("No backend for UDP flow", "client", f.client, "err", err)
		return
	}
	defer c.Close()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	for _, p := range f.pending {
		if n, err := c.Write(p); err == nil {
			sp.m.toBackend.Add(float64(n))
		}
	}
	f.pending = nil
	f.conn.Store(&c)
	f.mu.Unlock()
	sp.m.ok.Inc()
	sp.log.V(4).Info("UDP flow", "client", f.client, "endpoint", b.addr)

	bp := udpBufs.Get().(*[]byte)
	defer udpBufs.Put(bp)
	buf := *bp
	for replied := false; ; replied = true {
		n, err := c.Read(buf)
		if err != nil {
			// ICMP port unreachable: nothing listens there. It is UDP's connect failure.
			if errors.Is(err, syscall.ECONNREFUSED) {
				sp.failed(b)
			}
			return
		}
		if !replied {
			sp.lb.out.success(b.addr)
		}
		f.touch()
		if _, err := sp.udp.pc.WriteToUDPAddrPort(buf[:n], f.client); err == nil {
			sp.m.toClient.Add(float64(n))
		}
	}
}

// removeFlow forgets f if it is still the flow of its client.
func (sp *servicePort) removeFlow(f *udpFlow) {
	f.close()
	u := sp.udp
	u.mu.Lock()
	if u.flows[f.client] == f {
		delete(u.flows, f.client)
	}
	u.mu.Unlock()
	sp.m.udpFlows.Dec()
	sp.m.active.Dec()
}

// udpJanitor closes flows idle for UDPIdleTimeout, checking a few times per timeout.
func (sp *servicePort) udpJanitor() {
	defer sp.wg.Done()
	idle := sp.opts.UDPIdleTimeout
	tick := time.NewTicker(min(max(idle/4, 10*time.Millisecond), 5*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-sp.ctx.Done():
			return
		case now := <-tick.C:
			cutoff := now.Add(-idle).UnixNano()
			u := sp.udp
			u.mu.Lock()
			for _, f := range u.flows {
				if f.lastActive.Load() <= cutoff {
					delete(u.flows, f.client) // a new datagram starts a new flow
					f.close()
				}
			}
			u.mu.Unlock()
		}
	}
}
