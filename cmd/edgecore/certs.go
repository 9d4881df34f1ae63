package main

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/edgecore/certs"
	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/edgecore/satoken"
)

// tokenDirName is the token cache's directory under the data directory (the meta store's).
const tokenDirName = "serviceaccount-tokens"

// identity is the node's identity and what it is used for: the rotating node certificate
// (every TLS client to the cloud takes rotator.TLSConfig()) and the ServiceAccount token
// source for edged.
type identity struct {
	rotator *certs.Rotator
	tokens  *satoken.Manager
}

// newIdentity builds both from the configuration. Run identity.rotator.Run in edgecore's group.
func newIdentity(cfg *config.EdgeCoreConfig, logger klog.Logger, reg prometheus.Registerer) (*identity, error) {
	rot, err := newRotator(cfg, logger, reg)
	if err != nil {
		return nil, err
	}
	tokens, err := newTokenSource(cfg, rot, logger, reg)
	if err != nil {
		return nil, err
	}
	return &identity{rotator: rot, tokens: tokens}, nil
}

// newRotator loads the node certificate written by `outpost join` and renews it through the
// join endpoint the join recorded (hub.joinEndpoint).
func newRotator(cfg *config.EdgeCoreConfig, logger klog.Logger, reg prometheus.Registerer) (*certs.Rotator, error) {
	return certs.New(certs.Options{
		NodeName: cfg.NodeName, CAFile: cfg.Hub.CAFile, CertFile: cfg.Hub.CertFile, KeyFile: cfg.Hub.KeyFile,
		Endpoint: cfg.Hub.JoinEndpoint, Registerer: reg, Logger: logger,
	})
}

// newTokenSource is edged's TokenSource: tokens from the cloud over the rotating node
// certificate, cached under the data directory.
func newTokenSource(cfg *config.EdgeCoreConfig, rot *certs.Rotator, logger klog.Logger, reg prometheus.Registerer) (*satoken.Manager, error) {
	return satoken.New(satoken.Options{
		Dir: filepath.Join(filepath.Dir(cfg.MetaStore.Path), tokenDirName), Endpoint: cfg.Hub.JoinEndpoint,
		TLSConfig: rot.TLSConfig(), Registerer: reg, Logger: logger,
	})
}
