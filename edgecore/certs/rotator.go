package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/pki"
)

// Rotator holds the node's current key pair and renews it; see the package doc.
type Rotator struct {
	opts    Options
	log     klog.Logger
	roots   *x509.CertPool
	metrics *metrics

	mu      sync.RWMutex
	current *pki.KeyPair
	tlsCert *tls.Certificate
	renewAt time.Time
}

// New loads the CA and the node's pair from disk (completing a renewal a crash interrupted).
// An expired certificate is loaded all the same, so that Run can say what to do about it; one
// of another CA or another node is an error.
func New(opts Options) (*Rotator, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(opts.CAFile)
	if err != nil {
		return nil, fmt.Errorf("certs: read CA: %w", err)
	}
	ca, err := pki.ParseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("certs: CA %s: %w", opts.CAFile, err)
	}
	r := &Rotator{opts: opts, log: opts.Logger.WithName("certs"), roots: x509.NewCertPool()}
	r.roots.AddCert(ca)
	if err := completePending(opts.CertFile, opts.KeyFile); err != nil {
		return nil, err
	}
	kp, err := loadPair(opts.CertFile, opts.KeyFile)
	if err != nil {
		return nil, err
	}
	if err := r.verify(kp, true); err != nil {
		return nil, fmt.Errorf("%s: %w", opts.CertFile, err)
	}
	// Registered last, so that a failed New leaves nothing behind.
	if r.metrics, err = newMetrics(opts.Registerer); err != nil {
		return nil, err
	}
	r.swap(kp)
	return r, nil
}

// TLSConfig returns a client configuration that trusts only the cluster CA and presents the
// current node certificate at every handshake.
func (r *Rotator) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: r.roots, GetClientCertificate: r.GetClientCertificate}
}

// GetClientCertificate is a tls.Config.GetClientCertificate that answers the current pair.
func (r *Rotator) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tlsCert, nil
}

// Current returns the pair in use. Callers must not modify it.
func (r *Rotator) Current() *pki.KeyPair {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

// Roots is the pool holding only the cluster CA.
func (r *Rotator) Roots() *x509.CertPool { return r.roots }

// RenewAt is when the current certificate is due for renewal.
func (r *Rotator) RenewAt() time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.renewAt
}

// swap makes kp the pair in use and schedules its renewal.
func (r *Rotator) swap(kp *pki.KeyPair) {
	c := kp.TLSCertificate()
	at := renewalTime(kp.Cert, r.opts.Jitter())
	r.mu.Lock()
	r.current, r.tlsCert, r.renewAt = kp, &c, at
	r.mu.Unlock()
	r.metrics.expiry.Set(float64(kp.Cert.NotAfter.Unix()))
}

// renewalTime is a point between 70% and 90% of cert's lifetime; jitter in [0, 1) picks it.
func renewalTime(cert *x509.Certificate, jitter float64) time.Time {
	life := cert.NotAfter.Sub(cert.NotBefore)
	frac := renewFrom + (renewTo-renewFrom)*jitter
	return cert.NotBefore.Add(time.Duration(float64(life) * frac))
}

// verify checks that kp names this node, chains to the cluster CA, matches its key and is
// valid now; with allowExpired, an expired certificate passes (New loads it so that Run can
// tell the operator to join again).
func (r *Rotator) verify(kp *pki.KeyPair, allowExpired bool) error {
	if err := keyMatches(kp); err != nil {
		return err
	}
	_, err := kp.Cert.Verify(x509.VerifyOptions{Roots: r.roots, CurrentTime: r.opts.Clock.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var invalid x509.CertificateInvalidError
	if err != nil && !(allowExpired && errors.As(err, &invalid) && invalid.Reason == x509.Expired) {
		return fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
	}
	name, err := pki.NodeName(kp.Cert)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
	}
	if name != r.opts.NodeName {
		return fmt.Errorf("%w: names node %q, this is %q", ErrInvalidCertificate, name, r.opts.NodeName)
	}
	return nil
}

// keyMatches checks that kp's private key is the certificate's.
func keyMatches(kp *pki.KeyPair) error {
	pub, ok := kp.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(kp.Key.Public()) {
		return fmt.Errorf("%w: key does not match the certificate", ErrInvalidCertificate)
	}
	return nil
}
