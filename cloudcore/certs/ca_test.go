package certs

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outpostmesh/outpost/pki"
)

func TestLoadOrCreateCA(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	first, err := LoadOrCreateCA(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if first.Hash() != again.Hash() {
		t.Fatalf("second start made a new CA: %s vs %s", again.Hash(), first.Hash())
	}
}

// TestLoadOrCreateCARace: another cloudcore creates the Secret between our read and our create;
// we must use its CA, not ours.
func TestLoadOrCreateCARace(t *testing.T) {
	ctx := context.Background()
	winner, err := pki.NewCA("winner", 0)
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	client.PrependReactor("create", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CASecretName},
			Data:       map[string][]byte{CACertKey: winner.CertPEM, CAKeyKey: winner.KeyPEM},
		}
		if err := client.Tracker().Add(s); err != nil {
			t.Errorf("tracker add: %v", err)
		}
		return true, nil, apierrors.NewAlreadyExists(corev1.Resource("secrets"), CASecretName)
	})
	ca, err := LoadOrCreateCA(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Hash() != winner.Hash() {
		t.Fatalf("got CA %s, want the race winner's %s", ca.Hash(), winner.Hash())
	}
}

func TestLoadOrCreateCABadSecret(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CASecretName},
		Data:       map[string][]byte{CACertKey: []byte("garbage")},
	})
	if _, err := LoadOrCreateCA(context.Background(), client); err == nil {
		t.Fatal("a corrupt CA secret was accepted")
	}
}
