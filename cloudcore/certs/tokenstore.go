package certs

import (
	"context"
	"crypto/subtle"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Where and how tokens are stored: kubeadm's bootstrap token Secrets, so that `kubeadm token
// list` shows them and kube-controller-manager's token cleaner deletes them once expired. The
// Secret has no usage-bootstrap-authentication key: an Outpost token cannot authenticate to the
// kube-apiserver, it only joins a node here.
const (
	TokenNamespace                      = "kube-system"
	TokenSecretPrefix                   = "bootstrap-token-"
	TokenSecretType   corev1.SecretType = "bootstrap.kubernetes.io/token"

	keyTokenID     = "token-id"
	keyTokenSecret = "token-secret"
	keyExpiration  = "expiration"
	keyDescription = "description"
	// KeyUsageJoin marks a token as usable for `outpost join`; others are refused.
	KeyUsageJoin = "usage-bootstrap-outpost-join"
	// keyUsedBy and keyUsedAt mark a token as spent (single use) and say by whom and when.
	keyUsedBy = "outpost-used-by"
	keyUsedAt = "outpost-used-at"
)

// DefaultTokenTTL is the lifetime of a token created without one.
const DefaultTokenTTL = 24 * time.Hour

// Tokens creates and checks join tokens stored as Secrets.
//
// A token is single-use: the join that succeeds with it marks its Secret used (by node name and
// time, with an optimistic-concurrency update so that two concurrent joins cannot both win), and
// every later use fails with ErrTokenUsed. The spent Secret stays until it expires, as an audit
// trail, then the token cleaner removes it.
type Tokens struct {
	// Client reaches the kube-apiserver. Required.
	Client kubernetes.Interface
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Create stores a new token valid for ttl (0: DefaultTokenTTL).
func (t *Tokens) Create(ctx context.Context, ttl time.Duration, description string) (Token, error) {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	for range 3 { // a random id collides with an existing one only by bad luck; retry then
		tok, err := NewToken()
		if err != nil {
			return Token{}, err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: TokenNamespace, Name: TokenSecretPrefix + tok.ID},
			Type:       TokenSecretType,
			Data: map[string][]byte{
				keyTokenID:     []byte(tok.ID),
				keyTokenSecret: []byte(tok.Secret),
				keyExpiration:  []byte(t.now().Add(ttl).UTC().Format(time.RFC3339)),
				keyDescription: []byte(description),
				KeyUsageJoin:   []byte("true"),
			},
		}
		_, err = t.Client.CoreV1().Secrets(TokenNamespace).Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return Token{}, fmt.Errorf("certs: create token: %w", err)
		}
		return tok, nil
	}
	return Token{}, fmt.Errorf("certs: create token: %w: id collisions", ErrInternal)
}

// Check validates a raw token and returns its Secret. Unknown ids and wrong secrets are both
// ErrTokenUnknown; expiry and use are reported only to whoever holds the right secret.
func (t *Tokens) Check(ctx context.Context, raw string) (*corev1.Secret, error) {
	tok, err := ParseToken(raw)
	if err != nil {
		return nil, err
	}
	s, err := t.Client.CoreV1().Secrets(TokenNamespace).Get(ctx, TokenSecretPrefix+tok.ID, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s", ErrTokenUnknown, tok.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read token %s: %w", ErrInternal, tok.ID, err)
	}
	if s.Type != TokenSecretType || string(s.Data[keyTokenID]) != tok.ID ||
		subtle.ConstantTimeCompare(s.Data[keyTokenSecret], []byte(tok.Secret)) != 1 ||
		string(s.Data[KeyUsageJoin]) != "true" {
		return nil, fmt.Errorf("%w: %s", ErrTokenUnknown, tok.ID)
	}
	if exp := string(s.Data[keyExpiration]); exp != "" {
		at, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return nil, fmt.Errorf("%w: %s has an unreadable expiration %q", ErrTokenExpired, tok.ID, exp)
		}
		if !t.now().Before(at) {
			return nil, fmt.Errorf("%w: %s expired at %s", ErrTokenExpired, tok.ID, exp)
		}
	}
	if by := string(s.Data[keyUsedBy]); by != "" {
		return nil, fmt.Errorf("%w: %s joined node %q at %s", ErrTokenUsed, tok.ID, by, s.Data[keyUsedAt])
	}
	return s, nil
}

// Claim marks the checked token s as used by node. The update carries s's resourceVersion, so
// of two concurrent claims one fails, with ErrTokenUsed. It returns the updated Secret.
func (t *Tokens) Claim(ctx context.Context, s *corev1.Secret, node string) (*corev1.Secret, error) {
	c := s.DeepCopy()
	c.Data[keyUsedBy] = []byte(node)
	c.Data[keyUsedAt] = []byte(t.now().UTC().Format(time.RFC3339))
	u, err := t.Client.CoreV1().Secrets(TokenNamespace).Update(ctx, c, metav1.UpdateOptions{})
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: %s was claimed concurrently", ErrTokenUsed, s.Data[keyTokenID])
	case err != nil:
		return nil, fmt.Errorf("%w: claim token %s: %w", ErrInternal, s.Data[keyTokenID], err)
	}
	return u, nil
}

// Release undoes Claim after a join failed past it, so the token can be used again.
func (t *Tokens) Release(ctx context.Context, claimed *corev1.Secret) error {
	c := claimed.DeepCopy()
	delete(c.Data, keyUsedBy)
	delete(c.Data, keyUsedAt)
	if _, err := t.Client.CoreV1().Secrets(TokenNamespace).Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("certs: release token %s: %w", claimed.Data[keyTokenID], err)
	}
	return nil
}
