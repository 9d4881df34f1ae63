package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/cloudcore/certs"
	"github.com/outpostmesh/outpost/edgecore/config"
	"github.com/outpostmesh/outpost/pki"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cloud is a join endpoint over a fake clientset.
type cloud struct {
	client *fake.Clientset
	ca     *pki.CA
	addr   string // host:port
}

func newCloud(t *testing.T) *cloud {
	t.Helper()
	client := fake.NewClientset()
	ca, err := certs.LoadOrCreateCA(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	s, err := certs.NewServer(certs.Options{Client: client, CA: ca, HubURL: "wss://127.0.0.1:10000/hub", Logger: ktesting.NewLogger(t, ktesting.NewConfig())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	if srv.TLS, err = certs.ServingTLSConfig(ca, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &cloud{client: client, ca: ca, addr: strings.TrimPrefix(srv.URL, "https://")}
}

// tokenCreate runs `outpost token create` against the cloud and returns stdout's line.
func (c *cloud) tokenCreate(t *testing.T) string {
	t.Helper()
	cmd := newTokenCreateCmd(func() (kubernetes.Interface, error) { return c.client, nil })
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"--ttl", "1h"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("token create: %v", err)
	}
	if !strings.Contains(errOut.String(), "outpost join") {
		t.Errorf("no join hint on stderr: %q", errOut.String())
	}
	return strings.TrimSpace(out.String())
}

func runJoin(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"join"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTokenCreate(t *testing.T) {
	c := newCloud(t)
	line := c.tokenCreate(t)
	tok, pin, err := certs.ParseJoinToken(line)
	if err != nil {
		t.Fatalf("printed %q: %v", line, err)
	}
	if pin != c.ca.Hash() {
		t.Fatalf("pin %s, CA hash %s", pin, c.ca.Hash())
	}
	s, err := c.client.CoreV1().Secrets(certs.TokenNamespace).Get(context.Background(), certs.TokenSecretPrefix+tok.ID, metav1.GetOptions{})
	if err != nil || s.Type != certs.TokenSecretType || string(s.Data[certs.KeyUsageJoin]) != "true" || s.Data["expiration"] == nil {
		t.Fatalf("token secret %+v, %v", s, err)
	}
}

func TestJoin(t *testing.T) {
	c := newCloud(t)
	token := c.tokenCreate(t)
	dir := t.TempDir()
	out, err := runJoin("--cloud", c.addr, "--token", token, "--node-name", "edge-1", "--dir", dir, "--data-dir", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatalf("join: %v\n%s", err, out)
	}
	if !strings.Contains(out, "edgecore --config "+filepath.Join(dir, config.FileName)) {
		t.Errorf("no start hint: %q", out)
	}
	cfg, err := config.Load(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeName != "edge-1" || cfg.Hub.URL != "wss://127.0.0.1:10000/hub" || cfg.MetaServer.Addr != "127.0.0.1:10350" ||
		cfg.MetaStore.Path != filepath.Join(dir, "data", "meta.db") || cfg.Hub.JoinEndpoint != c.addr {
		t.Fatalf("config %+v", cfg)
	}
	if st, err := os.Stat(cfg.Hub.KeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	certPEM, _ := os.ReadFile(cfg.Hub.CertFile)
	keyPEM, _ := os.ReadFile(cfg.Hub.KeyFile)
	caPEM, _ := os.ReadFile(cfg.Hub.CAFile)
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.VerifyNode(kp.Cert, nil, c.ca.Pool(), "edge-1"); err != nil || string(caPEM) != string(c.ca.CertPEM) {
		t.Fatalf("written credentials: %v", err)
	}
	n, err := c.client.CoreV1().Nodes().Get(context.Background(), "edge-1", metav1.GetOptions{})
	if err != nil || len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != certs.EdgeTaintKey {
		t.Fatalf("node %+v, %v", n, err)
	}

	// Joining again into the same directory needs --force.
	if _, err := runJoin("--cloud", c.addr, "--token", c.tokenCreate(t), "--node-name", "edge-1", "--dir", dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second join into %s: %v", dir, err)
	}
	// The spent token is refused elsewhere too.
	_, err = runJoin("--cloud", c.addr, "--token", token, "--node-name", "edge-2", "--dir", t.TempDir())
	if !errors.Is(err, certs.ErrTokenUsed) {
		t.Fatalf("replayed token: %v, want ErrTokenUsed", err)
	}
}

func TestJoinPinMismatchWritesNothing(t *testing.T) {
	c := newCloud(t)
	tok, _, err := certs.ParseJoinToken(c.tokenCreate(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("impostor", 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = runJoin("--cloud", c.addr, "--token", certs.JoinToken(tok, other.Hash()), "--node-name", "edge-1", "--dir", dir)
	if !errors.Is(err, certs.ErrCAPinMismatch) {
		t.Fatalf("join with a wrong pin: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files written after a pin mismatch: %v", ents)
	}
	if _, err := runJoin("--cloud", c.addr, "--token", tok.String(), "--node-name", "edge-1", "--dir", dir); err == nil || !strings.Contains(err.Error(), "--ca-hash") {
		t.Fatalf("join without a pin: %v", err)
	}
}
