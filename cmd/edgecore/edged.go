package main

import (
	"context"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/edgecore/edged"
	"github.com/outpostmesh/outpost/edgecore/edged/cri"
	"github.com/outpostmesh/outpost/edgecore/edged/prober"
	"github.com/outpostmesh/outpost/edgecore/edged/stream"
	"github.com/outpostmesh/outpost/edgecore/edged/volume"
	"github.com/outpostmesh/outpost/edgecore/satoken"
)

// edgedPart is edged with its CRI connection, prober and stream server (the kubelet API
// subset on cfg.Edged.StreamAddr, for the reverse tunnel); nil when edged is disabled (every
// method is nil-safe, so run.go wires it unconditionally).
type edgedPart struct {
	edged    *edged.Edged
	cri      *cri.Client
	prober   *prober.Manager
	stream   *stream.Server
	streamLn net.Listener
}

// newEdgedPart dials the runtime and builds edged over the metaserver at msAddr (loopback,
// plain HTTP: everything edged reads comes from the local store, so it works offline).
func newEdgedPart(ctx context.Context, cfg *config.EdgeCoreConfig, logger klog.Logger, reg prometheus.Registerer,
	msAddr string, send edged.StatusSink, tokens *satoken.Manager) (*edgedPart, error) {
	ec := cfg.Edged
	if !ec.Enabled {
		return nil, nil
	}
	sources, err := edged.NewSources(&rest.Config{Host: "http://" + msAddr, QPS: 100, Burst: 200, UserAgent: "outpost-edged"}, cfg.NodeName)
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
		NodeName: cfg.NodeName, Sources: sources, Runtime: rt.Runtime, Images: rt.Images, Status: send,
		Tokens: ts, Prober: pm, RootDir: ec.RootDir, PodLogsDir: ec.PodLogsDir, CNIConfDir: ec.CNIConfDir,
		CNIBridge: ec.CNIBridge, ClusterDNS: ec.ClusterDNS, ClusterDomain: ec.ClusterDomain,
		CgroupParent: ec.CgroupParent, NodeIP: cfg.NodeStatus.NodeIP, SyncPeriod: ec.SyncPeriod.Duration,
		RelistPeriod: ec.RelistPeriod.Duration, MaxPods: ec.MaxPods, Registerer: reg, Logger: logger,
	})
	if err != nil {
		rt.Close()
		return nil, err
	}
	// The stream server dials the runtime's streaming URLs (containerd: 127.0.0.1:10010) from
	// edgecore's own network namespace, the runtime's.
	ss, err := stream.New(stream.Options{Resolver: streamResolver{e}, Runtime: rt.Runtime, Logger: logger.WithName("stream"), Registerer: reg})
	if err != nil {
		rt.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", ec.StreamAddr)
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("edged: stream server: %w", err)
	}
	return &edgedPart{edged: e, cri: rt, prober: pm, stream: ss, streamLn: ln}, nil
}

// Run runs the prober, edged and the stream server until ctx ends.
func (p *edgedPart) Run(ctx context.Context) error {
	if p == nil {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { p.prober.Run(ctx); return nil })
	g.Go(func() error { return p.edged.Run(ctx) })
	g.Go(func() error { return serveStream(ctx, p.streamLn, p.stream) })
	return g.Wait()
}

// Close closes the CRI connection and the stream listener; containers keep running for the
// next edgecore to adopt.
func (p *edgedPart) Close() {
	if p != nil {
		p.streamLn.Close()
		p.cri.Close()
	}
}
