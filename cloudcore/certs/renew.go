package certs

import (
	"fmt"
	"net/http"

	"github.com/outpostmesh/outpost/pki"
)

// handleRenew signs a new certificate for the node of the request's client certificate, which
// must be a valid node identity of this CA. The CSR must name the same node.
func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	if err := s.renew(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no client certificate", ErrUnauthenticated)
	}
	chain := r.TLS.PeerCertificates
	inter := x509Pool(chain[1:])
	node, err := pki.VerifyNode(chain[0], inter, s.opts.CA.Pool(), "")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	var req RenewRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	csr, err := checkCSR(req.CSRPEM, node)
	if err != nil {
		return err
	}
	if err := s.sign(w, csr, node); err != nil {
		return err
	}
	s.log.Info("Renewed node certificate", "node", node, "remote", r.RemoteAddr)
	return nil
}
