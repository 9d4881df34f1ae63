package certs

import (
	"net/http"

	"github.com/outpostmesh/outpost/enroll"
)

// renew signs a new certificate for the node of the request's client certificate, which must
// be a valid node identity of this CA. The CSR must name the same node.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) error {
	node, err := s.nodeOf(r)
	if err != nil {
		return err
	}
	var req enroll.RenewRequest
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
