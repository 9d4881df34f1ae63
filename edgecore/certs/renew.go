package certs

import (
	"context"
	"fmt"
	"time"

	"github.com/outpostmesh/outpost/pki"
)

// Run renews the certificate when it is due and retries with backoff while the cloud cannot
// renew it, until ctx is done. It returns nil then.
func (r *Rotator) Run(ctx context.Context) error {
	if r.opts.Endpoint == "" {
		r.log.Info("No join endpoint configured (hub.joinEndpoint): the node certificate will not be renewed",
			"notAfter", r.Current().Cert.NotAfter)
		<-ctx.Done()
		return nil
	}
	var backoff, retryIn time.Duration // backoff grows on failures; retryIn is it jittered
	for {
		wait := r.RenewAt().Sub(r.opts.Clock.Now())
		if retryIn > 0 {
			wait = retryIn
		}
		if !r.sleep(ctx, wait) {
			return nil
		}
		err := r.RenewNow(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			backoff, retryIn = 0, 0
			continue
		}
		backoff = r.nextBackoff(backoff)
		retryIn = backoff/2 + time.Duration(r.opts.Jitter()*float64(backoff/2))
		r.log.Error(err, "Renewing the node certificate failed; retrying", "in", retryIn, "notAfter", r.Current().Cert.NotAfter)
	}
}

// RenewNow renews once: new key, POST /renew with the current certificate, verify, write, swap.
// Before asking it rereads the files: a pair written there by `outpost join --force` while
// edgecore ran replaces an older one in memory.
func (r *Rotator) RenewNow(ctx context.Context) error {
	if r.opts.Endpoint == "" {
		return ErrNoEndpoint
	}
	if r.reloadIfNewer() && r.opts.Clock.Now().Before(r.RenewAt()) {
		return nil // a re-join wrote a fresh pair: nothing to renew yet
	}
	cur := r.Current()
	if now := r.opts.Clock.Now(); now.After(cur.Cert.NotAfter) {
		// The cloud will refuse (it authenticates the renewal with this certificate), but a
		// try costs nothing and says so in its answer.
		r.log.Error(ErrExpired, "The node certificate expired: the cloud cannot renew it. Join this node again with `outpost join --force`",
			"notAfter", cur.Cert.NotAfter, "certFile", r.opts.CertFile)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	creds, err := r.opts.Renew(ctx, r.opts.Endpoint, r.roots, cur, r.opts.Timeout)
	if err != nil {
		r.metrics.renewals.WithLabelValues(resultError).Inc()
		return fmt.Errorf("certs: renew: %w", err)
	}
	kp, err := pki.ParseKeyPair(creds.CertPEM, creds.KeyPEM)
	if err == nil {
		err = r.verify(kp, false)
	}
	if err == nil {
		err = writePair(r.opts.CertFile, r.opts.KeyFile, kp.CertPEM, kp.KeyPEM)
	}
	if err != nil {
		r.metrics.renewals.WithLabelValues(resultInvalid).Inc()
		return fmt.Errorf("certs: renewed certificate: %w", err)
	}
	r.swap(kp)
	r.metrics.renewals.WithLabelValues(resultSuccess).Inc()
	r.log.Info("Renewed the node certificate", "notAfter", kp.Cert.NotAfter, "nextRenewal", r.RenewAt())
	return nil
}

// reloadIfNewer swaps in the pair on disk if it is a valid identity of this node that lives
// longer than the one in use, and says whether it did.
func (r *Rotator) reloadIfNewer() bool {
	cur := r.Current()
	if err := completePending(r.opts.CertFile, r.opts.KeyFile); err != nil {
		r.log.Error(err, "Checking the node certificate files")
		return false
	}
	kp, err := loadPair(r.opts.CertFile, r.opts.KeyFile)
	if err != nil || !kp.Cert.NotAfter.After(cur.Cert.NotAfter) {
		return false
	}
	if err := r.verify(kp, false); err != nil {
		r.log.Error(err, "Ignoring the node certificate on disk", "certFile", r.opts.CertFile)
		return false
	}
	r.swap(kp)
	r.log.Info("Loaded a newer node certificate from disk", "notAfter", kp.Cert.NotAfter)
	return true
}

// nextBackoff doubles prev from InitialBackoff up to MaxBackoff.
func (r *Rotator) nextBackoff(prev time.Duration) time.Duration {
	if prev == 0 {
		return r.opts.InitialBackoff
	}
	return min(2*prev, r.opts.MaxBackoff)
}

// sleep waits d on the rotator's clock; false if ctx ended first.
func (r *Rotator) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := r.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
