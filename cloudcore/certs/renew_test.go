package certs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

// TestRenewExpiredRefused: an expired node certificate no longer authenticates a renewal (the
// node must join again), and the refusal is counted by reason.
func TestRenewExpiredRefused(t *testing.T) {
	e := newTokenEnv(t, nil)
	spec := pki.NodeSpec("edge-1")
	spec.Now, spec.Validity = time.Now().Add(-48*time.Hour), 24*time.Hour
	expired, err := e.ca.Issue(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Renew(context.Background(), e.url, e.ca.Pool(), expired, 0); !errors.Is(err, enroll.ErrUnauthenticated) {
		t.Fatalf("renew with an expired certificate: %v, want ErrUnauthenticated", err)
	}
	if got := e.count(t, "renew", "Unauthenticated"); got != 1 {
		t.Fatalf("Unauthenticated renewals counted %v, want 1", got)
	}
}
