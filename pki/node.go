package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"strings"
)

// Node identities use the names of Kubernetes' Node authorizer, so that the same certificate can
// talk to the kube-apiserver as the node.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
)

// NodeCommonName is the CN of node name's identity certificate.
func NodeCommonName(node string) string { return NodeUserPrefix + node }

// NodeSpec is the CertSpec of a node identity usable as client and server (peer tunnels are both).
func NodeSpec(node string) CertSpec {
	return CertSpec{
		CommonName:   NodeCommonName(node),
		Organization: []string{NodesGroup},
		DNSNames:     []string{node},
		Server:       true,
		Client:       true,
	}
}

// NodeName returns the node a certificate identifies, or ErrNotNode.
func NodeName(cert *x509.Certificate) (string, error) {
	name, ok := strings.CutPrefix(cert.Subject.CommonName, NodeUserPrefix)
	if !ok || name == "" {
		return "", fmt.Errorf("%w: CN %q", ErrNotNode, cert.Subject.CommonName)
	}
	for _, o := range cert.Subject.Organization {
		if o == NodesGroup {
			return name, nil
		}
	}
	return "", fmt.Errorf("%w: %q lacks group %s", ErrNotNode, cert.Subject.CommonName, NodesGroup)
}

// VerifyNode checks that cert chains to roots, is valid now (per x509 rules) and names the node
// want; an empty want accepts any node. It returns the node name.
func VerifyNode(cert *x509.Certificate, intermediates, roots *x509.CertPool, want string) (string, error) {
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return "", fmt.Errorf("pki: verify node certificate: %w", err)
	}
	name, err := NodeName(cert)
	if err != nil {
		return "", err
	}
	if want != "" && name != want {
		return "", fmt.Errorf("%w: certificate names %q, expected %q", ErrNotNode, name, want)
	}
	return name, nil
}

// ServerSpec is the CertSpec of a serving certificate for hosts: each is an IP address or a
// DNS name, as clients dial the server.
func ServerSpec(commonName string, hosts []string) CertSpec {
	spec := CertSpec{CommonName: commonName, Server: true}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			spec.IPs = append(spec.IPs, ip)
		} else {
			spec.DNSNames = append(spec.DNSNames, h)
		}
	}
	return spec
}
