package certs

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

func TestRenewalWindow(t *testing.T) {
	n := newNode(t)
	cert := n.issue(t, "edge-1", time.Now()).Cert
	life := cert.NotAfter.Sub(cert.NotBefore)
	for _, j := range []float64{0, 0.5, 0.999999} {
		frac := float64(renewalTime(cert, j).Sub(cert.NotBefore)) / float64(life)
		if frac < 0.7-1e-9 || frac > 0.9+1e-9 {
			t.Errorf("jitter %v renews at %.3f of the lifetime, want 0.7..0.9", j, frac)
		}
	}
}

// TestRenewsBeforeExpiry: nothing happens before the renewal point (80% with jitter 0.5);
// after it, one renewal swaps in a new certificate and schedules the next one.
func TestRenewsBeforeExpiry(t *testing.T) {
	n := newNode(t)
	r := n.rotator(t)
	first := r.Current()
	if got := testutil.ToFloat64(r.metrics.expiry); got != float64(first.Cert.NotAfter.Unix()) {
		t.Fatalf("expiry gauge %v, want %d", got, first.Cert.NotAfter.Unix())
	}
	due := r.RenewAt()
	if frac := float64(due.Sub(first.Cert.NotBefore)) / float64(first.Cert.NotAfter.Sub(first.Cert.NotBefore)); frac < 0.79 || frac > 0.81 {
		t.Fatalf("renewal at %.3f of the lifetime, want 0.8", frac)
	}
	runRotator(t, r)
	n.waitTimer(t)
	n.clock.SetTime(due.Add(-time.Minute))
	n.waitTimer(t)
	if c := n.callCount(); c != 0 {
		t.Fatalf("%d renewals before the renewal point", c)
	}
	n.clock.SetTime(due.Add(time.Minute))
	eventually(t, "the renewal", func() bool { return r.Current() != first })
	cur := r.Current()
	if cur.Cert.SerialNumber.Cmp(first.Cert.SerialNumber) == 0 || !r.RenewAt().After(n.clock.Now()) {
		t.Fatalf("after renewal: serial %v, next renewal %v (now %v)", cur.Cert.SerialNumber, r.RenewAt(), n.clock.Now())
	}
	if n.renewals(resultSuccess) != 1 || testutil.ToFloat64(r.metrics.expiry) != float64(cur.Cert.NotAfter.Unix()) {
		t.Fatalf("metrics: success %v, expiry %v", n.renewals(resultSuccess), testutil.ToFloat64(r.metrics.expiry))
	}
	onDisk, err := loadPair(n.certFile, n.keyFile)
	if err != nil || onDisk.Cert.SerialNumber.Cmp(cur.Cert.SerialNumber) != 0 {
		t.Fatalf("files hold another pair: %v", err)
	}
}

// TestRetriesWhileCloudDown: failed renewals are retried with growing backoff until the cloud
// answers; the old certificate stays in use meanwhile.
func TestRetriesWhileCloudDown(t *testing.T) {
	n := newNode(t)
	n.setFail(errCloudDown)
	r := n.rotator(t)
	first := r.Current()
	runRotator(t, r)
	n.waitTimer(t)
	n.clock.SetTime(r.RenewAt())
	var waits []time.Duration
	for i := range 4 {
		eventually(t, "a renewal attempt", func() bool { return n.callCount() == i+1 })
		n.waitTimer(t)
		before := n.clock.Now()
		for n.callCount() == i+1 && n.clock.Now().Sub(before) < time.Minute {
			n.clock.Step(250 * time.Millisecond)
			time.Sleep(time.Millisecond)
		}
		waits = append(waits, n.clock.Now().Sub(before))
		if r.Current() != first {
			t.Fatal("the certificate changed while the cloud was down")
		}
	}
	// Jitter 0.5: 0.75 of the backoff, which doubles from 1 s: 0.75 s, 1.5 s, 3 s, 6 s.
	for i, w := range waits {
		want := time.Duration(float64(time.Second<<i) * 0.75)
		if w < want || w > want+time.Second {
			t.Errorf("retry %d after %v, want about %v", i+1, w, want)
		}
	}
	n.setFail(nil)
	eventually(t, "a renewal attempt", func() bool { return n.callCount() == 5 })
	n.waitTimer(t)
	n.clock.Step(8 * time.Second)
	eventually(t, "the renewal", func() bool { return r.Current() != first })
	if n.renewals(resultError) < 4 || n.renewals(resultSuccess) != 1 {
		t.Fatalf("renewals: error %v, success %v", n.renewals(resultError), n.renewals(resultSuccess))
	}
}

// TestExpiredCertificate: the cloud refuses to renew an expired certificate; the rotator keeps
// trying and picks up the pair a re-join writes to disk.
func TestExpiredCertificate(t *testing.T) {
	n := newNode(t)
	n.writePair(t, n.issue(t, "edge-1", n.clock.Now().Add(-2*lifetime)))
	r := n.rotator(t)
	if err := r.RenewNow(t.Context()); !errors.Is(err, enroll.ErrUnauthenticated) {
		t.Fatalf("renewing an expired certificate: %v, want ErrUnauthenticated", err)
	}
	runRotator(t, r)
	for i := 2; i <= 3; i++ {
		n.waitTimer(t)
		n.clock.Step(8 * time.Second)
		eventually(t, "a retry", func() bool { return n.callCount() >= i })
	}
	// The operator joins the node again.
	rejoined := n.issue(t, "edge-1", n.clock.Now())
	n.writePair(t, rejoined)
	calls := n.callCount()
	n.waitTimer(t)
	n.clock.Step(8 * time.Second)
	eventually(t, "the re-joined certificate", func() bool {
		return r.Current().Cert.SerialNumber.Cmp(rejoined.Cert.SerialNumber) == 0
	})
	if n.callCount() != calls {
		t.Error("the rotator renewed a certificate it had just loaded")
	}
}

// TestRefusesBadAnswer: a certificate for another node is not used or written.
func TestRefusesBadAnswer(t *testing.T) {
	n := newNode(t)
	r := n.rotator(t)
	first := r.Current()
	n.name = "edge-2"
	if err := r.RenewNow(t.Context()); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("renewal answering another node: %v, want ErrInvalidCertificate", err)
	}
	onDisk, err := loadPair(n.certFile, n.keyFile)
	if r.Current() != first || err != nil || onDisk.Cert.SerialNumber.Cmp(first.Cert.SerialNumber) != 0 || n.renewals(resultInvalid) != 1 {
		t.Fatalf("a refused certificate was used or written (%v)", err)
	}
}

func TestNewRefuses(t *testing.T) {
	n := newNode(t)
	other, err := pki.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(pki.NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	n.writePair(t, foreign)
	if _, err := New(n.options(t)); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("another CA's certificate: %v", err)
	}
	n.writePair(t, n.issue(t, "edge-2", time.Now()))
	if _, err := New(n.options(t)); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("another node's certificate: %v", err)
	}
	kp := n.issue(t, "edge-1", time.Now())
	n.writePair(t, kp)
	if err := os.WriteFile(n.keyFile, n.issue(t, "edge-1", time.Now()).KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(n.options(t)); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("mismatched key: %v", err)
	}
	o := n.options(t)
	o.NodeName = ""
	if _, err := New(o); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("no node name: %v", err)
	}
}
