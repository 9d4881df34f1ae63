package edgemesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/dns"
	"github.com/outpostmesh/outpost/edgemesh/proxy"
	"github.com/outpostmesh/outpost/edgemesh/view"
	"github.com/outpostmesh/outpost/healthz"
	"github.com/outpostmesh/outpost/tunnel"
)

// RuleSyncer installs the proxy's redirects in the kernel (the iptables package in production).
type RuleSyncer interface {
	Sync(redirects []proxy.Redirect) error
	Cleanup() error
}

// Agent is a running mesh agent.
type Agent struct {
	cfg    *Config
	client kubernetes.Interface
	rules  RuleSyncer
	log    klog.Logger
	reg    *prometheus.Registry

	ctrl  *view.Controller
	store *view.Store
	dns   *dns.Server
	tun   *tunnel.Agent
	proxy *proxy.Proxy
	addr  *nodeAddr
	ready chan struct{} // closed when every part has started
	// syncedGen is the view generation the proxy and rules last synced to.
	syncedGen atomic.Uint64
}

// NewAgent prepares an agent; rules may be nil when the proxy is disabled.
func NewAgent(cfg *Config, client kubernetes.Interface, rules RuleSyncer, log klog.Logger) (*Agent, error) {
	if cfg.NodeName == "" {
		return nil, fmt.Errorf("%w: nodeName is empty", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Agent{cfg: cfg, client: client, rules: rules, log: log, reg: reg, ready: make(chan struct{})}, nil
}

// Store is the agent's service view.
func (a *Agent) Store() *view.Store { return a.store }

// Run starts every part, serves until ctx ends, then stops them in reverse order and removes
// the agent's rules and addresses.
func (a *Agent) Run(ctx context.Context) (err error) {
	var stops []func() error
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if serr := stops[i](); serr != nil {
				a.log.Error(serr, "Shutdown step failed")
			}
		}
	}()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	stops = append(stops, func() error { cancel(); wg.Wait(); return nil })
	goRun := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }

	if a.ctrl, err = view.NewController(view.Options{
		Client:       a.client,
		SnapshotPath: filepath.Join(a.cfg.StateDir, "view.json"),
		Logger:       a.log.WithName("view"),
	}); err != nil {
		return err
	}
	a.store = a.ctrl.Store()
	goRun(func() {
		if err := a.ctrl.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error(err, "Service view stopped")
		}
	})
	if err := a.startHealth(ctx, goRun); err != nil {
		return err
	}

	if a.cfg.DNS.Enabled {
		if ip := a.cfg.DNS.NodeLocalIP; ip != "" {
			addr, err := netip.ParseAddr(ip)
			if err != nil {
				return fmt.Errorf("%w: dns.nodeLocalIP: %w", ErrConfig, err)
			}
			if a.addr, err = ensureNodeLocalIP(addr); err != nil {
				return err
			}
			stops = append(stops, a.addr.remove)
		}
		opts := dns.NewDefaultOptions(a.store)
		opts.Listen = a.cfg.DNS.Listen
		opts.Zone = a.cfg.DNS.Zone
		opts.TTL = a.cfg.DNS.TTL.Duration
		opts.Upstreams = a.cfg.DNS.Upstreams
		opts.Logger = a.log.WithName("dns")
		opts.Registerer = a.reg
		if a.dns, err = dns.NewServer(opts); err != nil {
			return err
		}
		if err := a.dns.Start(); err != nil {
			return err
		}
		stops = append(stops, a.dns.Close)
		a.log.Info("DNS serving", "listen", a.cfg.DNS.Listen, "zone", a.cfg.DNS.Zone)
	}

	if a.cfg.Tunnel.Enabled {
		if err := a.startTunnel(ctx); err != nil {
			return err
		}
		stops = append(stops, a.tun.Close)
		goRun(func() {
			serveRemote(ctx, a.tun, a.store, a.cfg.NodeName, a.cfg.Proxy.ConnectTimeout.Duration, a.log.WithName("remote"))
		})
	}

	if a.cfg.Proxy.Enabled {
		if a.proxy, err = proxy.New(proxy.Options{
			NodeName:       a.cfg.NodeName,
			Site:           a.cfg.Site,
			SiteOf:         a.store.SiteOf,
			Dial:           a.dialEndpoint,
			ConnectTimeout: a.cfg.Proxy.ConnectTimeout.Duration,
			Retries:        a.cfg.Proxy.Retries,
			UDPIdleTimeout: a.cfg.Proxy.UDPIdleTimeout.Duration,
			FastPath:       a.cfg.Proxy.FastPath,
			Registerer:     a.reg,
			Logger:         a.log.WithName("proxy"),
		}); err != nil {
			return err
		}
		stops = append(stops, a.proxy.Close)
		if a.cfg.Proxy.FastPath {
			// Pods' fast-path connections to other hosts of the site are forwarded.
			if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
				a.log.Error(err, "Cannot enable IP forwarding: pods' fast-path connections to other hosts will fail")
			}
		}
		if a.rules != nil {
			stops = append(stops, a.rules.Cleanup)
		}
		// The sync loop stops before the rules are cleaned up, or it could put them back.
		syncDone := make(chan struct{})
		goRun(func() { defer close(syncDone); a.syncLoop(ctx) })
		stops = append(stops, func() error { cancel(); <-syncDone; return nil })
	}
	close(a.ready)
	a.log.Info("Mesh agent running", "node", a.cfg.NodeName)
	<-ctx.Done()
	a.log.Info("Mesh agent stopping")
	return nil
}

// syncLoop keeps the proxy and the rules in step with the view.
func (a *Agent) syncLoop(ctx context.Context) {
	for {
		changed, gen := a.store.Changed()
		redirects, err := a.proxy.Sync(a.store.Services())
		if err != nil {
			a.log.Error(err, "Proxy sync")
		}
		if a.rules != nil {
			if rerr := a.rules.Sync(redirects); rerr != nil {
				a.log.Error(rerr, "Rule sync")
				err = rerr
			}
		}
		if err == nil {
			a.syncedGen.Store(gen)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		// Batch a burst of changes into one sync.
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dialEndpoint connects to an endpoint: directly when it is on this node or this site (the
// LAN reaches it), through a tunnel stream to its node's agent otherwise.
func (a *Agent) dialEndpoint(ctx context.Context, ep view.Endpoint, port uint16, proto view.Protocol) (net.Conn, error) {
	addr := netip.AddrPortFrom(ep.IP, port)
	site := a.cfg.Site
	if site == "" {
		site = a.store.SiteOf(a.cfg.NodeName)
	}
	local := ep.NodeName == "" || ep.NodeName == a.cfg.NodeName || a.tun == nil ||
		(site != "" && a.store.SiteOf(ep.NodeName) == site)
	if !local {
		return dialRemote(ctx, a.tun, ep.NodeName, addr, proto)
	}
	network := "tcp"
	if proto == view.UDP {
		network = "udp"
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr.String())
}

func (a *Agent) startTunnel(ctx context.Context) error {
	tc := a.cfg.Tunnel
	caPEM, err := os.ReadFile(tc.CAFile)
	if err != nil {
		return fmt.Errorf("edgemesh: tunnel CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("edgemesh: tunnel CA %s: no certificate", tc.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(tc.CertFile, tc.KeyFile)
	if err != nil {
		return fmt.Errorf("edgemesh: node certificate: %w", err)
	}
	opts := tunnel.Options{
		NodeName:   a.cfg.NodeName,
		Cert:       cert,
		Roots:      roots,
		ListenAddr: tc.ListenAddr,
		Logger:     a.log.WithName("tunnel"),
		Registerer: a.reg,
	}
	for _, r := range tc.Relays {
		opts.Relays = append(opts.Relays, tunnel.RelayConfig{Addr: r})
	}
	if tc.LANDiscovery {
		opts.LAN = &tunnel.LANOptions{}
	}
	for _, p := range tc.ExcludeCandidateCIDRs {
		opts.ExcludeCandidateCIDRs = append(opts.ExcludeCandidateCIDRs, netip.MustParsePrefix(p)) // validated with the config
	}
	if a.tun, err = tunnel.New(opts); err != nil {
		return err
	}
	if err := a.tun.Start(ctx); err != nil {
		a.tun.Close()
		return err
	}
	return nil
}

// startHealth serves /metrics, /livez, /readyz and /status.
func (a *Agent) startHealth(ctx context.Context, goRun func(func())) error {
	mux := healthz.Mux(a.reg, func() error {
		select {
		case <-a.ready:
		default:
			return errors.New("starting")
		}
		if !a.ctrl.Ready() {
			return errors.New("service view empty: no API and no snapshot yet")
		}
		return nil
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		_, gen := a.store.Changed()
		st := map[string]any{
			"node":      a.cfg.NodeName,
			"services":  a.store.Len(),
			"apiSynced": a.ctrl.Synced(),
			// proxyInSync: the proxy and the rules reflect the current view.
			"proxyInSync": a.proxy == nil || a.syncedGen.Load() == gen,
		}
		if a.tun != nil {
			st["peers"] = a.tun.Status()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	ln, err := net.Listen("tcp", a.cfg.HealthAddr)
	if err != nil {
		return fmt.Errorf("edgemesh: health listener: %w", err)
	}
	goRun(func() {
		if err := healthz.Serve(ctx, ln, mux); err != nil {
			a.log.Error(err, "Health server stopped")
		}
	})
	return nil
}
