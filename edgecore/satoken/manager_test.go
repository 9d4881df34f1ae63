package satoken

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/outpostmesh/outpost/enroll"
)

// cloud is a fake token endpoint: token "tok-<n>" valid for the requested seconds, or
// (lifetime set) for lifetime.
type cloud struct {
	clock    *clocktesting.FakeClock
	mu       sync.Mutex
	n        int
	down     bool
	lifetime time.Duration
	last     enroll.ServiceAccountTokenRequest
}

func (c *cloud) request(_ context.Context, _ string, _ *tls.Config, req enroll.ServiceAccountTokenRequest, _ time.Duration) (*enroll.ServiceAccountTokenResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	c.n++
	c.last = req
	life := time.Duration(req.ExpirationSeconds) * time.Second
	if c.lifetime > 0 {
		life = c.lifetime
	}
	return &enroll.ServiceAccountTokenResponse{Token: fmt.Sprintf("tok-%d", c.n), ExpirationTimestamp: c.clock.Now().Add(life)}, nil
}

func (c *cloud) setDown(d bool) { c.mu.Lock(); c.down = d; c.mu.Unlock() }
func (c *cloud) count() int     { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func newManager(t *testing.T, dir string, c *cloud) *Manager {
	t.Helper()
	m, err := New(Options{Dir: dir, Endpoint: "cloud.test:10002", TLSConfig: &tls.Config{}, Request: c.request,
		Clock: c.clock, Logger: ktesting.NewLogger(t, ktesting.NewConfig())})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "0b7c7e4e-1111-2222-3333-444455556666"}}

func token(t *testing.T, m *Manager, aud ...string) (string, time.Time, error) {
	t.Helper()
	return m.Token(context.Background(), pod, "web", aud, 3600)
}

func mustToken(t *testing.T, m *Manager, want string) {
	t.Helper()
	got, _, err := token(t, m)
	if err != nil || got != want {
		t.Fatalf("Token = %q, %v; want %q", got, err, want)
	}
}

func TestCachesAndRefreshesAt80Percent(t *testing.T) {
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now())}
	m := newManager(t, t.TempDir(), c)
	tok, exp, err := token(t, m)
	if err != nil || tok != "tok-1" || exp.Sub(c.clock.Now()) != time.Hour {
		t.Fatalf("first token %q, expires %v, %v", tok, exp, err)
	}
	if c.last.PodUID != string(pod.UID) || c.last.ServiceAccountName != "web" || c.last.ExpirationSeconds != 3600 {
		t.Fatalf("request %+v", c.last)
	}
	c.clock.Step(47 * time.Minute) // < 80% of an hour
	mustToken(t, m, "tok-1")
	c.clock.Step(2 * time.Minute) // > 80%
	mustToken(t, m, "tok-2")
	if c.count() != 2 {
		t.Fatalf("%d requests, want 2", c.count())
	}
	// Other audiences are another token.
	if tok, _, err := token(t, m, "vault"); err != nil || tok != "tok-3" || c.last.Audiences[0] != "vault" {
		t.Fatalf("token for other audiences: %q, %v", tok, err)
	}
}

// TestRefreshesAfter24h: a long-lived token is refreshed after a day, like the kubelet does.
func TestRefreshesAfter24h(t *testing.T) {
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now()), lifetime: 365 * 24 * time.Hour}
	m := newManager(t, t.TempDir(), c)
	mustToken(t, m, "tok-1")
	c.clock.Step(23 * time.Hour)
	mustToken(t, m, "tok-1")
	c.clock.Step(2 * time.Hour)
	mustToken(t, m, "tok-2")
}

// TestServesCachedWhileCloudDown: a due refresh that fails serves the cached token until it
// expires, then fails with ErrUnavailable.
func TestServesCachedWhileCloudDown(t *testing.T) {
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now())}
	m := newManager(t, t.TempDir(), c)
	mustToken(t, m, "tok-1")
	c.setDown(true)
	c.clock.Step(55 * time.Minute)
	mustToken(t, m, "tok-1")
	c.clock.Step(6 * time.Minute)
	if _, _, err := token(t, m); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("expired token with the cloud down: %v, want ErrUnavailable", err)
	}
	c.setDown(false)
	mustToken(t, m, "tok-2")
}

// TestSurvivesRestart: a new Manager on the same directory serves the token from disk while
// the cloud is down; files are 0600 in a 0700 directory.
func TestSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now())}
	mustToken(t, newManager(t, dir, c), "tok-1")
	c.setDown(true)
	c.clock.Step(50 * time.Minute) // due for refresh, still valid
	m := newManager(t, dir, c)
	mustToken(t, m, "tok-1")

	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v", st.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v", st.Mode().Perm(), err)
	}

	// Expired tokens are pruned at start; ForgetPod removes a pod's tokens.
	c.clock.Step(time.Hour)
	newManager(t, dir, c)
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("expired token files kept: %v", files)
	}
	c.setDown(false)
	m = newManager(t, dir, c)
	mustToken(t, m, "tok-2")
	if err := m.ForgetPod(pod.UID); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("ForgetPod left %v", files)
	}
}

func TestBadInput(t *testing.T) {
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now())}
	m := newManager(t, t.TempDir(), c)
	for name, p := range map[string]*corev1.Pod{
		"nil pod": nil,
		"no UID":  {ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "b"}},
		"odd UID": {ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "b", UID: "../../etc"}},
	} {
		if _, _, err := m.Token(context.Background(), p, "web", nil, 3600); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if _, _, err := m.Token(context.Background(), pod, "", nil, 3600); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("no service account: %v", err)
	}
	if _, err := New(Options{TLSConfig: &tls.Config{}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no dir: %v", err)
	}
	if c.count() != 0 {
		t.Error("bad input reached the cloud")
	}
}

// TestConcurrentCallersShareARequest: many pods' containers asking at once make one request.
func TestConcurrentCallersShareARequest(t *testing.T) {
	c := &cloud{clock: clocktesting.NewFakeClock(time.Now())}
	m := newManager(t, t.TempDir(), c)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := token(t, m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.count() != 1 {
		t.Fatalf("%d requests, want 1", c.count())
	}
}
