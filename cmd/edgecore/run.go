package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/outpostmesh/outpost/healthz"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/edgecore/hubclient"
	"github.com/outpostmesh/outpost/edgecore/metaserver"
	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/edgecore/nodestatus"
)

// run wires edgecore's parts and runs them until ctx ends. Shutdown order: the parts that
// use the store stop first, the store closes last.
func run(ctx context.Context, cfg *config.EdgeCoreConfig) error {
	logger := klog.Background().WithValues("node", cfg.NodeName)
	ctx = klog.NewContext(ctx, logger)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := os.MkdirAll(filepath.Dir(cfg.MetaStore.Path), 0o700); err != nil {
		return fmt.Errorf("meta store: %w", err)
	}
	store, err := metastore.Open(cfg.MetaStore.Path, metastore.Options{Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	defer store.Close()

	ms, err := metaserver.New(metaserver.Options{Store: store, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	msLn, err := net.Listen("tcp", cfg.MetaServer.Addr)
	if err != nil {
		return fmt.Errorf("metaserver: %w", err)
	}
	if cfg.MetaServer.Kubeconfig != "" {
		if err := writeKubeconfig(cfg.MetaServer.Kubeconfig, "http://"+msLn.Addr().String()); err != nil {
			msLn.Close()
			return err
		}
	}

	// The node certificate rotates (certs.go): clients take it from id.rotator at each handshake.
	id, err := newIdentity(cfg, logger, reg)
	if err != nil {
		msLn.Close()
		return err
	}
	tlsCfg := id.rotator.TLSConfig()
	hc, err := hubclient.New(hubclient.Options{
		HubURL: cfg.Hub.URL, NodeName: cfg.NodeName, TLSConfig: tlsCfg, Store: store,
		Logger: logger, Registerer: reg,
		KeepAliveInterval: cfg.Hub.KeepAliveInterval.Duration,
		ReadIdleTimeout:   cfg.Hub.ReadIdleTimeout.Duration,
		MaxBackoff:        cfg.Hub.MaxBackoff.Duration,
	})
	if err != nil {
		msLn.Close()
		return err
	}
	defer hc.Close()

	ns := cfg.NodeStatus
	nsOpts := nodestatus.Options{
		NodeName: cfg.NodeName, Send: hc.SendStatus, Interval: ns.Interval.Duration,
		LeaseDuration: ns.LeaseDuration.Duration, KubeletPort: ns.KubeletPort,
		Version: version, Logger: logger,
	}
	if cfg.Edged.Enabled {
		nsOpts.MaxPods = cfg.Edged.MaxPods // edged refuses pods beyond it; 0 means both defaults (110)
	}
	if ns.NodeIP != "" {
		nsOpts.Addresses = nodestatus.StaticAddresses(ns.NodeIP, cfg.NodeName)
	}
	reporter, err := nodestatus.New(nsOpts)
	if err != nil {
		msLn.Close()
		return err
	}
	ed, err := newEdgedPart(ctx, cfg, logger, reg, msLn.Addr().String(), hc.SendStatus, id.tokens) // edged.go; nil when disabled
	if err != nil {
		msLn.Close()
		return err
	}
	defer ed.Close()

	// One part failing stops edgecore: its supervisor restarts it whole.
	g, ctx := errgroup.WithContext(ctx)
	goRun := func(name string, f func() error) {
		g.Go(func() error {
			if err := f(); err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	goRun("metaserver", func() error { return ms.Serve(ctx, msLn) })
	goRun("hub client", func() error { return hc.Run(ctx) })
	goRun("cert rotator", func() error { return id.rotator.Run(ctx) })
	goRun("node status", func() error { reporter.Run(ctx); return nil })
	goRun("edged", func() error { return ed.Run(ctx) })
	if cfg.HealthAddr != "" {
		// Ready means the hub session is up: the node works without it (the metaserver serves
		// from disk), but a probe should see the cut.
		mux := healthz.Mux(reg, func() error {
			if !hc.Connected() {
				return errors.New("hub not connected")
			}
			return nil
		})
		goRun("health", func() error { return healthz.ListenAndServe(ctx, cfg.HealthAddr, mux) })
	}
	logger.Info("edgecore started", "version", version, "hub", cfg.Hub.URL, "metaserver", msLn.Addr().String())
	<-ctx.Done()
	err = g.Wait()
	logger.Info("edgecore stopped")
	return err
}
