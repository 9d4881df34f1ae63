package certs

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

const testHubURL = "wss://cloud.test:10000/hub"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a join endpoint on a loopback TLS server over a fake clientset.
type env struct {
	client *fake.Clientset
	ca     *pki.CA
	clock  *clock
	tokens *Tokens
	srv    *httptest.Server
	url    string
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith is newEnv with options changed by mod (nil: none).
func newEnvWith(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	client := fake.NewClientset()
	ca, err := LoadOrCreateCA(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	opts := Options{Client: client, CA: ca, HubURL: testHubURL, Logger: ktesting.NewLogger(t, ktesting.NewConfig()), Now: clk.Now}
	if mod != nil {
		mod(&opts)
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	if srv.TLS, err = ServingTLSConfig(ca, []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &env{client: client, ca: ca, clock: clk, tokens: &Tokens{Client: client, Now: clk.Now}, srv: srv, url: srv.URL}
}

func (e *env) token(t *testing.T, ttl time.Duration) Token {
	t.Helper()
	tok, err := e.tokens.Create(context.Background(), ttl, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) join(tok, node string) (*enroll.Credentials, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return enroll.Join(ctx, enroll.JoinOptions{Endpoint: e.url, Token: tok, CAHash: e.ca.Hash(), NodeName: node})
}
