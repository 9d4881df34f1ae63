package tunnel

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/outpostmesh/outpost/pki"
)

// alpn is the QUIC application protocol of peer tunnels; bump it on incompatible changes.
const alpn = "outpost-tunnel/1"

// verifier returns a VerifyPeerCertificate callback accepting node certificates from the
// cluster CA; want, if not empty, is the node the peer must be. Refusals are logged and counted
// (metric outpost_tunnel_identity_refusals_total) here, where the reason is known.
func (a *Agent) verifier(side, want string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		name, err := a.verifyChain(raw, want)
		if err != nil {
			a.metrics.refusals.WithLabelValues(side, refusalReason(err)).Inc()
			a.log.Info("Refusing peer", "side", side, "want", want, "err", err)
			return err
		}
		if name == a.opts.NodeName {
			err := fmt.Errorf("%w: peer claims our own name %q", ErrPeerIdentity, name)
			a.metrics.refusals.WithLabelValues(side, "self").Inc()
			a.log.Info("Refusing peer", "side", side, "err", err)
			return err
		}
		return nil
	}
}

func (a *Agent) verifyChain(raw [][]byte, want string) (string, error) {
	if len(raw) == 0 {
		return "", fmt.Errorf("%w: no certificate", ErrPeerIdentity)
	}
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrPeerIdentity, err)
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	name, err := pki.VerifyNode(certs[0], inter, a.opts.Roots, want)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrPeerIdentity, err)
	}
	return name, nil
}

func refusalReason(err error) string {
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "expired"
	case errors.As(err, &unk):
		return "unknown_authority"
	case errors.Is(err, pki.ErrNotNode):
		return "wrong_name"
	default:
		return "invalid"
	}
}

// peerName reads the node name from a verified connection's certificate.
func peerName(cs tls.ConnectionState) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: no certificate", ErrPeerIdentity)
	}
	return pki.NodeName(cs.PeerCertificates[0])
}

// serverTLS accepts any node of the cluster; the connection is matched to its peer by the
// verified name.
func (a *Agent) serverTLS() *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{a.opts.Cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: a.verifier("server", ""),
		NextProtos:            []string{alpn},
	}
}

// clientTLS accepts only peer. Go's hostname verification is replaced by the node-name check
// (InsecureSkipVerify only skips the built-in check; VerifyPeerCertificate does the chain).
func (a *Agent) clientTLS(peer string) *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{a.opts.Cert},
		InsecureSkipVerify:    true, //nolint:gosec // verified by VerifyPeerCertificate
		VerifyPeerCertificate: a.verifier("client", peer),
		NextProtos:            []string{alpn},
		ServerName:            peer,
	}
}

// relayTLS is the signalling client's config: node certificate out, relay certificate checked
// against the cluster CA with standard hostname verification.
func (a *Agent) relayTLS(serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{a.opts.Cert},
		RootCAs:      a.opts.Roots,
		ServerName:   serverName,
	}
}
