package satoken

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/outpostmesh/outpost/enroll"
)

// Manager fetches, caches and refreshes ServiceAccount tokens; see the package doc. It is
// safe for concurrent use; requests for different tokens do not wait for each other.
type Manager struct {
	opts     Options
	log      klog.Logger
	requests *prometheus.CounterVec

	mu      sync.Mutex
	entries map[string]*entry // by file name
}

// entry is one token's slot; its mutex is held while the token is fetched, so that concurrent
// callers for the same token make one request.
type entry struct {
	mu  sync.Mutex
	tok *cached // nil: not loaded or none
}

// New creates Dir if needed and removes expired tokens from it.
func New(opts Options) (*Manager, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("satoken: %w", err)
	}
	m := &Manager{opts: opts, log: opts.Logger.WithName("satoken"), entries: map[string]*entry{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "outpost", Subsystem: "edgecore_satoken", Name: "requests_total",
			Help: "Token calls by result: hit (cached, fresh), issued (fetched from the cloud), stale (cloud unreachable, cached token served), error.",
		}, []string{"result"}),
	}
	m.prune()
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(m.requests); err != nil {
			return nil, fmt.Errorf("satoken: register metrics: %w", err)
		}
	}
	return m, nil
}

// Token returns a token for pod's service account sa with audiences, valid for about
// expSeconds: from the cache while it is fresh, else from the cloud, else (cloud unreachable
// or refusing) the cached one until it expires. This is edged's TokenSource.
func (m *Manager) Token(ctx context.Context, pod *corev1.Pod, sa string, audiences []string, expSeconds int64) (string, time.Time, error) {
	if pod == nil || pod.Name == "" || pod.Namespace == "" || sa == "" || !uidRE.MatchString(string(pod.UID)) {
		return "", time.Time{}, fmt.Errorf("%w: need a pod with namespace, name and UID, and a service account", ErrInvalidRequest)
	}
	name := fileName(pod.Namespace, pod.Name, string(pod.UID), sa, audiences, expSeconds)
	e := m.entry(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	path := filepath.Join(m.opts.Dir, name)
	if e.tok == nil {
		if c, err := readCached(path); err == nil {
			e.tok = c
		} else if !errors.Is(err, fs.ErrNotExist) {
			m.log.Error(err, "Ignoring a cached token")
		}
	}
	now := m.opts.Clock.Now()
	if e.tok != nil && !e.tok.needsRefresh(now, m.opts.MaxAge) {
		m.requests.WithLabelValues("hit").Inc()
		return e.tok.Token, e.tok.Expires, nil
	}
	c, err := m.fetch(ctx, pod, sa, audiences, expSeconds)
	if err != nil {
		if e.tok != nil && now.Before(e.tok.Expires) {
			m.requests.WithLabelValues("stale").Inc()
			m.log.V(1).Info("Serving a cached token: refreshing it failed", "pod", klog.KObj(pod), "expires", e.tok.Expires, "err", err)
			return e.tok.Token, e.tok.Expires, nil
		}
		m.requests.WithLabelValues("error").Inc()
		return "", time.Time{}, fmt.Errorf("%w for pod %s/%s: %w", ErrUnavailable, pod.Namespace, pod.Name, err)
	}
	e.tok = c
	if err := writeCached(path, c); err != nil {
		// The token still works; only a restart while offline would miss it.
		m.log.Error(err, "Caching a token on disk", "pod", klog.KObj(pod))
	}
	m.requests.WithLabelValues("issued").Inc()
	return c.Token, c.Expires, nil
}

func (m *Manager) fetch(ctx context.Context, pod *corev1.Pod, sa string, audiences []string, expSeconds int64) (*cached, error) {
	if m.opts.Endpoint == "" {
		return nil, errors.New("no join endpoint configured")
	}
	req := enroll.ServiceAccountTokenRequest{Namespace: pod.Namespace, PodName: pod.Name, PodUID: string(pod.UID),
		ServiceAccountName: sa, Audiences: audiences, ExpirationSeconds: expSeconds}
	ctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	issued := m.opts.Clock.Now()
	resp, err := m.opts.Request(ctx, m.opts.Endpoint, m.opts.TLSConfig, req, m.opts.Timeout)
	if err != nil {
		return nil, err
	}
	if !resp.ExpirationTimestamp.After(issued) {
		return nil, fmt.Errorf("the cloud answered a token that expired at %s", resp.ExpirationTimestamp)
	}
	return &cached{Namespace: pod.Namespace, Pod: pod.Name, PodUID: string(pod.UID), ServiceAccount: sa,
		Audiences: audiences, ExpirationSeconds: expSeconds, Token: resp.Token, IssuedAt: issued, Expires: resp.ExpirationTimestamp}, nil
}

func (m *Manager) entry(name string) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[name]
	if !ok {
		e = &entry{}
		m.entries[name] = e
	}
	return e
}

// ForgetPod drops every token of the pod with uid, in memory and on disk (call it when the
// pod is removed from the node).
func (m *Manager) ForgetPod(uid types.UID) error {
	if !uidRE.MatchString(string(uid)) {
		return fmt.Errorf("%w: pod UID %q", ErrInvalidRequest, uid)
	}
	prefix := string(uid) + "_"
	m.mu.Lock()
	for name := range m.entries {
		if strings.HasPrefix(name, prefix) {
			delete(m.entries, name)
		}
	}
	m.mu.Unlock()
	files, err := filepath.Glob(filepath.Join(m.opts.Dir, prefix+"*.json"))
	if err != nil {
		return fmt.Errorf("satoken: %w", err)
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// prune removes expired and unreadable token files: nothing can use them.
func (m *Manager) prune() {
	files, _ := filepath.Glob(filepath.Join(m.opts.Dir, "*.json"))
	now := m.opts.Clock.Now()
	for _, f := range files {
		if c, err := readCached(f); err == nil && now.Before(c.Expires) {
			continue
		}
		if err := os.Remove(f); err != nil {
			m.log.Error(err, "Removing an expired token file")
		}
	}
}
