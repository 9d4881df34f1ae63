package hubtest

import (
	"crypto/tls"
	"net"
	"testing"

	"github.com/outpostmesh/outpost/pki"
)

// PKI is a test cluster CA with a hub serving certificate for 127.0.0.1.
type PKI struct {
	CA     *pki.CA
	Server tls.Certificate
}

// NewPKI creates a CA and a serving certificate.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := pki.NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(pki.CertSpec{CommonName: "cloudcore", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{CA: ca, Server: srv.TLSCertificate()}
}

// NodeTLS is the client TLS configuration of node with a certificate from this CA.
func (p *PKI) NodeTLS(t testing.TB, node string) *tls.Config {
	t.Helper()
	kp, err := p.CA.Issue(pki.NodeSpec(node))
	if err != nil {
		t.Fatal(err)
	}
	return p.ClientTLS(kp)
}

// ClientTLS is a client TLS configuration presenting kp (nil: no client certificate) and
// trusting this CA.
func (p *PKI) ClientTLS(kp *pki.KeyPair) *tls.Config {
	cfg := &tls.Config{RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS13, ServerName: "127.0.0.1"}
	if kp != nil {
		cfg.Certificates = []tls.Certificate{kp.TLSCertificate()}
	}
	return cfg
}
