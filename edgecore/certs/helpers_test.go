package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

const lifetime = 100 * time.Hour

// node is a node's files in a temporary directory, a CA, a fake clock and a fake cloud.
type node struct {
	dir, caFile, certFile, keyFile string
	ca                             *pki.CA
	clock                          *clocktesting.FakeClock
	reg                            *prometheus.Registry

	mu    sync.Mutex
	calls int
	fail  error // the fake cloud's answer while set
	name  string
}

func newNode(t *testing.T) *node {
	t.Helper()
	ca, err := pki.NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := &node{dir: dir, caFile: filepath.Join(dir, "ca.crt"), certFile: filepath.Join(dir, "node.crt"),
		keyFile: filepath.Join(dir, "node.key"), ca: ca, clock: clocktesting.NewFakeClock(time.Now()),
		reg: prometheus.NewRegistry(), name: "edge-1"}
	if err := os.WriteFile(n.caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	n.writePair(t, n.issue(t, "edge-1", n.clock.Now()))
	return n
}

func (n *node) issue(t *testing.T, name string, at time.Time) *pki.KeyPair {
	t.Helper()
	spec := pki.NodeSpec(name)
	spec.Now, spec.Validity = at, lifetime
	kp, err := n.ca.Issue(spec)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func (n *node) writePair(t *testing.T, kp *pki.KeyPair) {
	t.Helper()
	if err := os.WriteFile(n.certFile, kp.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.keyFile, kp.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// renew is the fake cloud: it refuses with n.fail, or issues a new pair for n.name now.
func (n *node) renew(_ context.Context, _ string, _ *x509.CertPool, current *pki.KeyPair, _ time.Duration) (*enroll.Credentials, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls++
	if n.fail != nil {
		return nil, n.fail
	}
	if n.clock.Now().After(current.Cert.NotAfter) {
		return nil, enroll.ErrUnauthenticated // what the cloud answers an expired certificate
	}
	spec := pki.NodeSpec(n.name)
	spec.Now, spec.Validity = n.clock.Now(), lifetime
	kp, err := n.ca.Issue(spec)
	if err != nil {
		return nil, err
	}
	return &enroll.Credentials{CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM, CAPEM: n.ca.CertPEM}, nil
}

func (n *node) setFail(err error) { n.mu.Lock(); n.fail = err; n.mu.Unlock() }
func (n *node) callCount() int    { n.mu.Lock(); defer n.mu.Unlock(); return n.calls }

func (n *node) options(t *testing.T) Options {
	return Options{
		NodeName: "edge-1", CAFile: n.caFile, CertFile: n.certFile, KeyFile: n.keyFile,
		Endpoint: "cloud.test:10002", Renew: n.renew, Clock: n.clock, Jitter: func() float64 { return 0.5 },
		InitialBackoff: time.Second, MaxBackoff: 8 * time.Second,
		Registerer: n.reg, Logger: ktesting.NewLogger(t, ktesting.NewConfig()),
	}
}

func (n *node) rotator(t *testing.T) *Rotator {
	t.Helper()
	r, err := New(n.options(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (n *node) renewals(result string) float64 {
	return testutilCounter(n.reg, result)
}

func testutilCounter(reg *prometheus.Registry, result string) float64 {
	v, err := testutil.GatherAndCount(reg, "outpost_edgecore_cert_renewals_total")
	if err != nil || v == 0 {
		return 0
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "outpost_edgecore_cert_renewals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// runRotator runs r until the test ends.
func runRotator(t *testing.T, r *Rotator) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitTimer waits until Run sleeps on the fake clock.
func (n *node) waitTimer(t *testing.T) {
	t.Helper()
	eventually(t, "the rotator to wait", n.clock.HasWaiters)
}

var errCloudDown = errors.New("dial tcp: connection refused")
