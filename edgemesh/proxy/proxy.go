package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgemesh/view"
)

// Proxy proxies the service ports of the services given to Sync.
type Proxy struct {
	opts Options
	log  klog.Logger
	m    *metrics

	mu     sync.Mutex
	closed bool
	ports  map[portKey]*servicePort
	alloc  *portAlloc
}

// New returns a Proxy with no service; Sync gives it some. Zero fields of opts take their
// defaults.
func New(opts Options) (*Proxy, error) {
	opts = opts.withDefaults()
	if opts.PortMin > opts.PortMax {
		return nil, fmt.Errorf("proxy: port range %d-%d: min above max", opts.PortMin, opts.PortMax)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("proxy: register metrics: %w", err)
	}
	return &Proxy{
		opts:  opts,
		log:   opts.Logger,
		m:     m,
		ports: make(map[portKey]*servicePort),
		alloc: newPortAlloc(opts.PortMin, opts.PortMax),
	}, nil
}

// Sync converges the proxy to services: it opens a socket for each new TCP or UDP port of
// a service with a ClusterIP, closes those of ports no longer there (and their connections),
// and swaps the endpoints of the others in place, keeping their connections, affinity and
// ejection state. It returns the redirects for every open socket; the error joins the
// ports that could not be opened (they are retried on the next Sync).
func (p *Proxy) Sync(services []*view.Service) ([]Redirect, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("proxy: sync: %w", ErrClosed)
	}
	type want struct {
		svc *view.Service
		sp  view.ServicePort
	}
	wanted := make(map[portKey]want)
	for _, svc := range services {
		if svc == nil || svc.Headless || svc.ExternalName != "" || len(svc.ClusterIPs) == 0 {
			continue
		}
		for _, sp := range svc.Ports {
			if sp.Protocol != view.TCP && sp.Protocol != view.UDP {
				continue
			}
			wanted[portKey{svc.Key(), sp.Port, sp.Protocol}] = want{svc, sp}
		}
	}
	for k, sp := range p.ports {
		if _, ok := wanted[k]; !ok {
			p.removeLocked(k, sp)
		}
	}
	// This node's site may be learnt late (its Node's label comes with the view).
	site := p.opts.Site
	if site == "" && p.opts.SiteOf != nil {
		site = p.opts.SiteOf(p.opts.NodeName)
	}
	loc := locality{node: p.opts.NodeName, site: site, siteOf: p.opts.SiteOf}
	var errs []error
	for k, w := range wanted {
		set := newEndpointSet(w.svc, w.sp, loc, p.opts.DefaultAffinityTimeout)
		if sp, ok := p.ports[k]; ok {
			sp.lb.update(set)
			sp.clusterIPs = w.svc.ClusterIPs
			continue
		}
		sp, err := p.open(k, set)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sp.clusterIPs = w.svc.ClusterIPs
		p.ports[k] = sp
	}
	return p.redirectsLocked(), errors.Join(errs...)
}

// Redirects returns the redirects of the open sockets, sorted.
func (p *Proxy) Redirects() []Redirect {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.redirectsLocked()
}

// Close stops every socket, connection and flow. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, sp := range p.ports {
		p.removeLocked(k, sp)
	}
	return nil
}

func (p *Proxy) redirectsLocked() []Redirect {
	var rs []Redirect
	for k, sp := range p.ports {
		for _, ip := range sp.clusterIPs {
			if li := p.opts.ListenIP; li.IsValid() && !li.IsUnspecified() && li.Is4() != ip.Is4() {
				continue // the socket cannot receive this family
			}
			r := Redirect{ClusterIP: ip, Port: k.port, Protocol: k.proto, ProxyPort: sp.proxyPort}
			if p.opts.FastPath {
				r.Direct = sp.lb.set.Load().direct(ip.Unmap().Is4())
			}
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b Redirect) int {
		return cmp.Or(a.ClusterIP.Compare(b.ClusterIP), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
	})
	return rs
}

func (p *Proxy) removeLocked(k portKey, sp *servicePort) {
	sp.stop()
	p.alloc.release(k.proto, sp.proxyPort)
	p.m.forget(sp.name)
	delete(p.ports, k)
	sp.log.V(2).Info("Closed service port")
}

// open allocates a proxy port, opens its socket and starts serving it.
func (p *Proxy) open(k portKey, set *endpointSet) (*servicePort, error) {
	name := k.service + ":" + strconv.Itoa(int(k.port))
	ctx, cancel := context.WithCancel(context.Background())
	sp := &servicePort{
		key:    k,
		name:   name,
		lb:     newBalancer(set, newOutliers(p.opts.EjectAfter, p.opts.EjectBase, p.opts.EjectMax), p.opts.Now),
		m:      p.m.forPort(name, string(k.proto)),
		opts:   &p.opts,
		log:    p.log.WithValues("service", name, "protocol", k.proto),
		ctx:    ctx,
		cancel: cancel,
	}
	port, err := p.alloc.open(k.proto, func(port uint16) (uint16, error) {
		addr := netip.AddrPortFrom(p.opts.ListenIP, port)
		if k.proto == view.UDP {
			pc, err := p.opts.ListenUDP(addr)
			if err != nil {
				return 0, err
			}
			sp.udp = newUDPPort(pc)
			return localPort(pc.LocalAddr()), nil
		}
		ln, err := p.opts.ListenTCP(addr)
		if err != nil {
			return 0, err
		}
		sp.tcp = newTCPPort(ln)
		return localPort(ln.Addr()), nil
	})
	if err != nil {
		cancel()
		p.m.forget(name)
		return nil, fmt.Errorf("proxy: open %s/%s: %w", name, k.proto, err)
	}
	sp.proxyPort = port
	sp.wg.Add(1)
	if sp.udp != nil {
		go sp.serveUDP()
	} else {
		go sp.serveTCP()
	}
	sp.log.V(2).Info("Opened service port", "proxyPort", port)
	return sp, nil
}

func localPort(a net.Addr) uint16 {
	switch a := a.(type) {
	case *net.TCPAddr:
		return uint16(a.Port)
	case *net.UDPAddr:
		return uint16(a.Port)
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Port()
	}
	return 0
}
