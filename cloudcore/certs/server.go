package certs

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

// Server is the join endpoint's http.Handler. Serve it over TLS with ServingTLSConfig, which
// asks for (without requiring) client certificates so that /renew and /serviceaccount-token
// can read them.
type Server struct {
	opts    Options
	log     klog.Logger
	tokens  *Tokens
	mux     *http.ServeMux
	metrics *metrics
	limiter *nodeLimiter
}

// NewServer checks opts and returns the handler.
func NewServer(opts Options) (*Server, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger.WithName("certs"),
		tokens:  &Tokens{Client: opts.Client, Now: opts.Now},
		mux:     http.NewServeMux(),
		metrics: m,
		limiter: newNodeLimiter(opts.TokenRate, opts.TokenBurst),
	}
	s.mux.HandleFunc("GET "+enroll.PathCA, s.handleCA)
	s.mux.HandleFunc("POST "+enroll.PathJoin, s.handle("join", s.join))
	s.mux.HandleFunc("POST "+enroll.PathRenew, s.handle("renew", s.renew))
	s.mux.HandleFunc("POST "+enroll.PathServiceAccountToken, s.handle("serviceaccount-token", s.serviceAccountToken))
	return s, nil
}

// ServeHTTP routes GET /ca, POST /join, POST /renew and POST /serviceaccount-token.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) handleCA(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(s.opts.CA.CertPEM)
}

// decode reads a JSON body of at most MaxBodyBytes.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, into any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// checkCSR parses csrPEM, checks its signature and that it asks for node's identity.
func checkCSR(csrPEM, node string) (*x509.CertificateRequest, error) {
	csr, err := pki.ParseCSR([]byte(csrPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSRInvalid, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrCSRInvalid, err)
	}
	if want := pki.NodeCommonName(node); csr.Subject.CommonName != want {
		return nil, fmt.Errorf("%w: CN %q, want %q", ErrNodeNameMismatch, csr.Subject.CommonName, want)
	}
	return csr, nil
}

// handle wraps an endpoint: a failure answers its ErrorResponse, and every outcome is counted.
func (s *Server) handle(endpoint string, fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		result := "OK"
		if err != nil {
			result, _ = enroll.ReasonOf(err)
			s.fail(w, r, err)
		}
		s.metrics.requests.WithLabelValues(endpoint, result).Inc()
	}
}

// nodeOf authenticates the request's client certificate: a node identity of this CA, valid
// now. It returns the node's name.
func (s *Server) nodeOf(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: no client certificate", ErrUnauthenticated)
	}
	chain := r.TLS.PeerCertificates
	node, err := pki.VerifyNode(chain[0], x509Pool(chain[1:]), s.opts.CA.Pool(), "")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return node, nil
}

// sign issues node's certificate for csr and writes the CertResponse.
func (s *Server) sign(w http.ResponseWriter, csr *x509.CertificateRequest, node string) error {
	spec := pki.NodeSpec(node)
	spec.Validity = s.opts.CertValidity
	spec.Now = s.opts.Now()
	certPEM, err := s.opts.CA.SignCSR(csr, spec)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInternal, err)
	}
	writeJSON(w, http.StatusOK, enroll.CertResponse{CertPEM: string(certPEM), CAPEM: string(s.opts.CA.CertPEM), HubURL: s.opts.HubURL})
	return nil
}

// fail logs err and answers its ErrorResponse. Internal details are logged, not returned.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	reason, status := enroll.ReasonOf(err)
	msg := err.Error()
	if errors.Is(err, ErrInternal) {
		s.log.Error(err, "Join endpoint failed", "path", r.URL.Path, "remote", r.RemoteAddr)
		msg = ErrInternal.Error()
	} else {
		s.log.Info("Refused request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason, "err", err)
	}
	writeJSON(w, status, enroll.ErrorResponse{Reason: reason, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
