package certs

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/outpostmesh/outpost/pki"
)

// ServingTLSConfig issues a serving certificate from ca for hosts (DNS names or IPs: every name
// edges dial cloudcore by) and returns a server config that requests, without requiring or
// verifying, client certificates: /join has none, /renew verifies its own against the CA and
// answers a clear error rather than failing the handshake.
func ServingTLSConfig(ca *pki.CA, hosts []string) (*tls.Config, error) {
	kp, err := ca.Issue(pki.ServerSpec("outpost-cloudcore", hosts))
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{kp.TLSCertificate()},
		ClientAuth:   tls.RequestClientCert,
	}, nil
}

func x509Pool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
