package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/outpostmesh/outpost/healthz"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/cloudcore/certs"
	"github.com/outpostmesh/outpost/cloudcore/edgecontroller"
	"github.com/outpostmesh/outpost/cloudcore/hub"
	"github.com/outpostmesh/outpost/pki"
)

// run wires cloudcore's parts and runs them until ctx ends (SIGTERM), then shuts them down:
// listeners close, sessions end, workers stop.
func run(ctx context.Context, cfg *Config) error {
	logger := klog.Background()
	ctx = klog.NewContext(ctx, logger)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	client, err := newClient(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	ca, err := certs.LoadOrCreateCA(ctx, client)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	hubCert, err := servingCert(ca, "outpost-hub", cfg.PublicAddresses)
	if err != nil {
		return fmt.Errorf("hub serving certificate: %w", err)
	}
	joinTLS, err := certs.ServingTLSConfig(ca, cfg.PublicAddresses)
	if err != nil {
		return fmt.Errorf("join serving certificate: %w", err)
	}
	joinSrv, err := certs.NewServer(certs.Options{
		Client: client, CA: ca, HubURL: cfg.hubURL(), CertValidity: cfg.Join.CertValidity.Duration, Logger: logger,
		Registerer: reg,
	})
	if err != nil {
		return err
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	ctrl, err := edgecontroller.New(ctx, edgecontroller.Options{
		Client: client, Informers: factory, GracePeriod: cfg.EdgeController.GracePeriod.Duration, Registerer: reg,
	})
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Options{
		Certificate: hubCert, ClientCAs: ca.Pool(), Handler: ctrl, Logger: logger, Registerer: reg,
		PingPeriod: cfg.Hub.PingPeriod.Duration, PongTimeout: cfg.Hub.PongTimeout.Duration,
	})
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	hubLn, err := lc.Listen(ctx, "tcp", cfg.Hub.Addr)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	joinLn, err := lc.Listen(ctx, "tcp", cfg.Join.Addr)
	if err != nil {
		hubLn.Close()
		return fmt.Errorf("join endpoint: %w", err)
	}

	// One part failing stops cloudcore: its supervisor restarts it whole.
	g, ctx := errgroup.WithContext(ctx)
	var synced atomic.Bool
	goRun := func(name string, f func() error) {
		g.Go(func() error {
			if err := f(); err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	goRun("informers", func() error {
		for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
			if !ok && ctx.Err() == nil {
				return fmt.Errorf("cache of %v not synced", typ)
			}
		}
		synced.Store(ctx.Err() == nil)
		return nil
	})
	goRun("edge controller", func() error { return ctrl.Run(ctx, cfg.EdgeController.Workers) })
	goRun("hub", func() error { return h.Serve(ctx, hubLn) })
	goRun("join endpoint", func() error { return serveHTTPS(ctx, joinLn, joinSrv, joinTLS) })
	if cfg.HealthAddr != "" {
		mux := healthz.Mux(reg, func() error {
			if !synced.Load() {
				return errors.New("informers not synced")
			}
			return nil
		})
		goRun("health", func() error { return healthz.ListenAndServe(ctx, cfg.HealthAddr, mux) })
	}
	logger.Info("cloudcore started", "version", version, "hub", hubLn.Addr().String(), "join", joinLn.Addr().String(),
		"hubURL", cfg.hubURL(), "caHash", ca.Hash())
	<-ctx.Done()
	err = g.Wait()
	logger.Info("cloudcore stopped")
	return err
}

func newClient(kubeconfig string) (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "outpost-cloudcore/" + version
	return kubernetes.NewForConfig(rc)
}

// servingCert issues a node-independent server certificate for the addresses edges dial.
func servingCert(ca *pki.CA, cn string, hosts []string) (tls.Certificate, error) {
	kp, err := ca.Issue(pki.ServerSpec(cn, hosts))
	if err != nil {
		return tls.Certificate{}, err
	}
	return kp.TLSCertificate(), nil
}

// serveHTTPS serves handler with TLS on ln until ctx is done, then shuts down gracefully.
func serveHTTPS(ctx context.Context, ln net.Listener, handler http.Handler, cfg *tls.Config) error {
	srv := &http.Server{Handler: handler, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
