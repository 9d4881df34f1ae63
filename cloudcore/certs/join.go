package certs

import (
	"context"
	"fmt"
	"net/http"

	"github.com/outpostmesh/outpost/enroll"
)

// join checks the token and the CSR, claims the token, registers the Node and signs. A failure
// after the claim releases the token, so a join that did not complete can be retried.
func (s *Server) join(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req enroll.JoinRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if err := enroll.CheckNodeName(req.NodeName); err != nil {
		return err
	}
	secret, err := s.tokens.Check(ctx, req.Token)
	if err != nil {
		return err
	}
	csr, err := checkCSR(req.CSRPEM, req.NodeName)
	if err != nil {
		return err
	}
	claimed, err := s.tokens.Claim(ctx, secret, req.NodeName)
	if err != nil {
		return err
	}
	release := func(cause error) error {
		// The request's context may be done; release on a fresh one.
		if rerr := s.tokens.Release(context.WithoutCancel(ctx), claimed); rerr != nil {
			s.log.Error(rerr, "Releasing token after a failed join", "node", req.NodeName)
		}
		return cause
	}
	if err := RegisterNode(ctx, s.opts.Client, req.NodeName); err != nil {
		return release(fmt.Errorf("%w: %w", ErrInternal, err))
	}
	if err := s.sign(w, csr, req.NodeName); err != nil {
		return release(err)
	}
	s.log.Info("Joined edge node", "node", req.NodeName, "token", claimed.Data[keyTokenID], "remote", r.RemoteAddr)
	return nil
}
