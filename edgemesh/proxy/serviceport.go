package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// portKey identifies a service port across Syncs.
type portKey struct {
	service string // namespace/name
	port    uint16
	proto   view.Protocol
}

// servicePort is the proxy of one (service, port): its socket, its balancer, and the
// goroutines serving it, which it owns and stops.
type servicePort struct {
	key        portKey
	name       string // "namespace/name:port", the metrics label
	proxyPort  uint16
	clusterIPs []netip.Addr // guarded by Proxy.mu
	lb         *balancer
	m          *portMetrics
	opts       *Options
	log        klog.Logger

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	tcp *tcpPort // exactly one of tcp, udp is set
	udp *udpPort
}

// connect dials a backend for client, retrying on other backends on failure.
func (sp *servicePort) connect(client netip.Addr) (net.Conn, *backend, error) {
	var triedBuf [4]netip.AddrPort
	tried := triedBuf[:0]
	var errs []error
	for range sp.opts.Retries + 1 {
		b := sp.lb.pick(client, tried)
		if b == nil {
			break
		}
		ctx, cancel := context.WithTimeout(sp.ctx, sp.opts.ConnectTimeout)
		c, err := sp.opts.Dial(ctx, b.ep, b.port, sp.key.proto)
		cancel()
		if err == nil {
			sp.lb.connected(client, b, sp.key.proto == view.TCP)
			return c, b, nil
		}
		errs = append(errs, fmt.Errorf("proxy: dial %s for %s: %w", b.addr, sp.name, err))
		tried = append(tried, b.addr)
		sp.failed(b)
		if sp.ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, nil, fmt.Errorf("proxy: connect %s: %w", sp.name, ErrNoEndpoints)
	}
	return nil, nil, errors.Join(errs...)
}

// failed records a connect failure of b, which may eject it.
func (sp *servicePort) failed(b *backend) {
	if d, ejected := sp.lb.failed(b); ejected {
		sp.m.ejections.Inc()
		sp.log.Info("Endpoint ejected after consecutive connect failures", "endpoint", b.addr, "for", d)
	}
}

// countFailure counts a failed connect by its cause.
func (sp *servicePort) countFailure(err error) {
	if errors.Is(err, ErrNoEndpoints) {
		sp.m.noEndpoints.Inc()
	} else {
		sp.m.dialError.Inc()
	}
}

// stop closes the socket and every connection or flow, and waits for the goroutines.
func (sp *servicePort) stop() {
	sp.cancel()
	if sp.tcp != nil {
		sp.tcp.close()
	}
	if sp.udp != nil {
		sp.udp.close()
	}
	sp.wg.Wait()
}

// clientAddr returns the unmapped client address of a net.Addr.
func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
