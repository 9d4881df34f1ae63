package certs

import (
	"context"
	"fmt"
	"net/http"
)

// handleJoin: check the token and the CSR, claim the token, register the Node, sign. A failure
// after the claim releases the token, so a join that did not complete can be retried.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	if err := s.join(w, r); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req JoinRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkNodeName(req.NodeName); err != nil {
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
