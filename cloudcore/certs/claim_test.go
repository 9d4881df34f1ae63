package certs

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// optimisticSecrets makes the fake clientset check resourceVersions on Secret updates, as the
// kube-apiserver does.
func optimisticSecrets(c *fake.Clientset) {
	c.PrependReactor("update", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.UpdateAction).GetObject().(*corev1.Secret).DeepCopy()
		cur, err := c.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), s.Namespace, s.Name)
		if err != nil {
			return true, nil, err
		}
		if rv := cur.(*corev1.Secret).ResourceVersion; rv != s.ResourceVersion {
			return true, nil, apierrors.NewConflict(corev1.Resource("secrets"), s.Name, errors.New("stale resourceVersion"))
		}
		n, _ := strconv.Atoi(s.ResourceVersion)
		s.ResourceVersion = strconv.Itoa(n + 1)
		return true, s, c.Tracker().Update(corev1.SchemeGroupVersion.WithResource("secrets"), s, s.Namespace)
	})
}

// TestConcurrentClaim: two joins checked the same token before either claimed it; the second
// claim carries a stale resourceVersion and loses.
func TestConcurrentClaim(t *testing.T) {
	e := newEnv(t)
	optimisticSecrets(e.client)
	ctx := context.Background()
	tok := e.token(t, time.Hour)
	a, err := e.tokens.Check(ctx, tok.String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.tokens.Check(ctx, tok.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Claim(ctx, a, "edge-1"); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if _, err := e.tokens.Claim(ctx, b, "edge-2"); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("second claim: %v, want ErrTokenUsed", err)
	}
	if _, err := e.tokens.Check(ctx, tok.String()); !errors.Is(err, ErrTokenUsed) {
		t.Fatalf("check after claim: %v, want ErrTokenUsed", err)
	}
}

// TestFailedJoinReleasesToken: a join that fails after claiming the token (here: the Node
// cannot be created) gives the token back, so the retry succeeds.
func TestFailedJoinReleasesToken(t *testing.T) {
	e := newEnv(t)
	var failNodes atomic.Bool
	failNodes.Store(true)
	e.client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failNodes.Load() {
			return true, nil, errors.New("apiserver unavailable")
		}
		return false, nil, nil
	})
	tok := e.token(t, time.Hour)
	if _, err := e.join(tok.String(), "edge-1"); !errors.Is(err, ErrInternal) {
		t.Fatalf("join with a failing apiserver: %v, want ErrInternal", err)
	}
	failNodes.Store(false)
	if _, err := e.join(tok.String(), "edge-1"); err != nil {
		t.Fatalf("retry after a failed join: %v", err)
	}
}
