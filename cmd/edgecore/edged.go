package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/edgecore/edged"
	"github.com/outpostmesh/outpost/edgecore/edged/cri"
	"github.com/outpostmesh/outpost/edgecore/edged/prober"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
	"github.com/outpostmesh/outpost/edgecore/satoken"
)

// edgedPart is edged with its CRI connection and prober; nil when edged is disabled (every
// method is nil-safe, so run.go wires it unconditionally).
type edgedPart struct {
	edged  *edged.Edged
	cri    *cri.Client
	prober *prober.Manager
}

// newEdgedPart dials the runtime and builds edged over the metaserver at msAddr (loopback,
// plain HTTP: everything edged reads comes from the local store, so it works offline).
func newEdgedPart(ctx context.Context, cfg *config.EdgeCoreConfig, logger klog.Logger, reg prometheus.Registerer,
	msAddr string, send edged.StatusSink, tokens *satoken.Manager) (*edgedPart, error) {
	ec := cfg.Edged
	if !ec.Enabled {
		return nil, nil
	}
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "http://" + msAddr, QPS: 100, Burst: 200, UserAgent: "outpost-edged"})
	if err != nil {
		return nil, fmt.Errorf("edged: metaserver client: %w", err)
	}
	rt, err := cri.Dial(ctx, ec.CRIEndpoint)
	if err != nil {
		return nil, err
	}
	logger = logger.WithName("edged")
	pm := prober.New(prober.Options{Exec: cri.Execer{Runtime: rt.Runtime}, Logger: logger.WithName("prober"), Registerer: reg})
	var ts volume.TokenSource
	if tokens != nil { // a typed nil in the interface would be called
		ts = tokens
	}
	e, err := edged.New(edged.Options{
		NodeName: cfg.NodeName, Client: client, Runtime: rt.Runtime, Images: rt.Images, Status: send,
		Tokens: ts, Prober: pm, RootDir: ec.RootDir, PodLogsDir: ec.PodLogsDir, CNIConfDir: ec.CNIConfDir,
		CNIBridge: ec.CNIBridge, ClusterDNS: ec.ClusterDNS, ClusterDomain: ec.ClusterDomain,
		CgroupParent: ec.CgroupParent, NodeIP: cfg.NodeStatus.NodeIP, SyncPeriod: ec.SyncPeriod.Duration,
		RelistPeriod: ec.RelistPeriod.Duration, MaxPods: ec.MaxPods, Registerer: reg, Logger: logger,
	})
	if err != nil {
		rt.Close()
		return nil, err
	}
	return &edgedPart{edged: e, cri: rt, prober: pm}, nil
}

// Run runs the prober and edged until ctx ends.
func (p *edgedPart) Run(ctx context.Context) error {
	if p == nil {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { p.prober.Run(ctx); return nil })
	g.Go(func() error { return p.edged.Run(ctx) })
	return g.Wait()
}

// Close closes the CRI connection; containers keep running for the next edgecore to adopt.
func (p *edgedPart) Close() {
	if p != nil {
		p.cri.Close()
	}
}
