package hub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/outpostmesh/outpost/pki"
)

var (
	errNoClientCert = errors.New("hub: no client certificate")
	errNotVerified  = errors.New("hub: client certificate not verified")
)

// TLSConfig is the hub's server TLS configuration: TLS 1.3 only, a client certificate from
// ClientCAs naming a node required. Use it when mounting the Hub (an http.Handler) on another
// server. Verification runs in VerifyConnection rather than in crypto/tls so that every refusal
// is logged and counted with its reason.
func (h *Hub) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{h.opts.Certificate},
		ClientAuth:   tls.RequestClientCert,
		NextProtos:   []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				h.refuse(reasonNoCert, "", errNoClientCert)
				return errNoClientCert
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := pki.VerifyNode(cs.PeerCertificates[0], inter, h.opts.ClientCAs, ""); err != nil {
				h.refuse(reasonBadCert, cs.PeerCertificates[0].Subject.CommonName, err)
				return errors.Join(errNotVerified, err)
			}
			return nil
		},
	}
}

func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener { return tls.NewListener(ln, cfg) }

// refuse logs and counts a refused or closed session.
func (h *Hub) refuse(reason, who string, err error) {
	h.metrics.refusals.WithLabelValues(reason).Inc()
	h.opts.Logger.Info("Refusing hub session", "reason", reason, "peer", who, "err", err)
}
