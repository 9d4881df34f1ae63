package volume

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Token lifetimes: the API's default expiry, and the kubelet's rule of renewing a token once
// 80 % of its life (or 24 h) has passed.
const (
	defaultTokenExpiry = 3600
	maxTokenAge        = 24 * time.Hour
)

type tokenKey struct {
	uid        types.UID
	volume     string
	path       string
	audience   string
	expSeconds int64
}

type token struct {
	value         string
	fetched, exps time.Time
}

func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ProjectedVolumeSource, ips PodIPs, out map[string]file) error {
	def := src.DefaultMode
	for i := range src.Sources {
		s := &src.Sources[i]
		var err error
		switch {
		case s.ConfigMap != nil:
			cm := &corev1.ConfigMapVolumeSource{LocalObjectReference: s.ConfigMap.LocalObjectReference, Items: s.ConfigMap.Items, Optional: s.ConfigMap.Optional}
			err = m.configMapPayload(pod.Namespace, cm, def, out)
		case s.Secret != nil:
			err = m.secretPayload(pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, def, out)
		case s.DownwardAPI != nil:
			err = downwardPayload(pod, s.DownwardAPI.Items, def, ips, out)
		case s.ServiceAccountToken != nil:
			var tok string
			tok, err = m.token(ctx, pod, volume, s.ServiceAccountToken)
			if err == nil {
				mode := modeOf(nil, def)
				out[s.ServiceAccountToken.Path] = file{data: []byte(tok), mode: mode}
			}
		default:
			err = fmt.Errorf("%w: projected source #%d (only configMap, secret, downwardAPI, serviceAccountToken)", ErrUnsupported, i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// token returns a cached token or fetches a fresh one when the cached one is 80 % through its
// life.
func (m *Manager) token(ctx context.Context, pod *corev1.Pod, volume string, p *corev1.ServiceAccountTokenProjection) (string, error) {
	if m.o.Tokens == nil {
		return "", fmt.Errorf("%w: cannot project a token for service account %q", ErrNoTokenSource, pod.Spec.ServiceAccountName)
	}
	exp := int64(defaultTokenExpiry)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	k := tokenKey{uid: pod.UID, volume: volume, path: p.Path, audience: p.Audience, expSeconds: exp}
	now := m.o.Clock.Now()
	m.mu.Lock()
	t, ok := m.tokens[k]
	m.mu.Unlock()
	if ok {
		life := t.exps.Sub(t.fetched)
		if now.Before(t.fetched.Add(life*8/10)) && now.Before(t.fetched.Add(maxTokenAge)) {
			return t.value, nil
		}
	}
	var aud []string
	if p.Audience != "" {
		aud = []string{p.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	v, exps, err := m.o.Tokens.Token(ctx, pod, sa, aud, exp)
	if err != nil {
		if ok && now.Before(t.exps) {
			return t.value, nil // offline: the old token is still valid, keep serving it
		}
		return "", fmt.Errorf("volume: token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	m.mu.Lock()
	m.tokens[k] = token{value: v, fetched: now, exps: exps}
	m.mu.Unlock()
	return v, nil
}

func (m *Manager) forgetTokens(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.tokens {
		if k.uid == uid {
			delete(m.tokens, k)
		}
	}
}
