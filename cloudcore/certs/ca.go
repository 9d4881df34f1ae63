package certs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/outpostmesh/outpost/pki"
)

// Where the cluster CA lives.
const (
	Namespace    = "outpost-system"
	CASecretName = "outpost-ca"
	CACertKey    = "ca.crt"
	CAKeyKey     = "ca.key"
	// CACommonName is the subject of a CA created by LoadOrCreateCA.
	CACommonName = "outpost-ca"
)

// LoadOrCreateCA reads the cluster CA from its Secret, creating both (and the namespace) at
// first start. Several cloudcores starting together agree on one CA: the loser of the create
// race reads the winner's.
func LoadOrCreateCA(ctx context.Context, client kubernetes.Interface) (*pki.CA, error) {
	secrets := client.CoreV1().Secrets(Namespace)
	s, err := secrets.Get(ctx, CASecretName, metav1.GetOptions{})
	if err == nil {
		return caFromSecret(s)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("certs: read CA secret %s/%s: %w", Namespace, CASecretName, err)
	}
	ca, err := pki.NewCA(CACommonName, 0)
	if err != nil {
		return nil, err
	}
	s = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CASecretName},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{CACertKey: ca.CertPEM, CAKeyKey: ca.KeyPEM},
	}
	_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) { // the namespace is missing
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
		if _, nerr := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); nerr != nil && !apierrors.IsAlreadyExists(nerr) {
			return nil, fmt.Errorf("certs: create namespace %s: %w", Namespace, nerr)
		}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{})
	}
	switch {
	case err == nil:
		return ca, nil
	case apierrors.IsAlreadyExists(err):
		s, err := secrets.Get(ctx, CASecretName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("certs: read CA secret %s/%s after losing the create race: %w", Namespace, CASecretName, err)
		}
		return caFromSecret(s)
	default:
		return nil, fmt.Errorf("certs: create CA secret %s/%s: %w", Namespace, CASecretName, err)
	}
}

func caFromSecret(s *corev1.Secret) (*pki.CA, error) {
	ca, err := pki.LoadCA(s.Data[CACertKey], s.Data[CAKeyKey])
	if err != nil {
		return nil, fmt.Errorf("certs: CA secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return ca, nil
}
