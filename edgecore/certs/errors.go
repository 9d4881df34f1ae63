package certs

import "errors"

var (
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("certs: invalid options")
	// ErrInvalidCertificate is a certificate, on disk or from the cloud, that is not a valid
	// identity of this node: it does not chain to the cluster CA, names another node, or does
	// not match its key.
	ErrInvalidCertificate = errors.New("certs: invalid node certificate")
	// ErrExpired is a node certificate past its NotAfter: the node must join again.
	ErrExpired = errors.New("certs: node certificate expired")
	// ErrNoEndpoint means no join endpoint is configured, so nothing can be renewed.
	ErrNoEndpoint = errors.New("certs: no join endpoint configured")
)
