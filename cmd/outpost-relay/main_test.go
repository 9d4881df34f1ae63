package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

func freePort(t *testing.T, network string) string {
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRun starts the relay from PEM files as the binary does, checks /readyz and /metrics,
// and opens a signalling session as an agent.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("test", 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.Issue(pki.CertSpec{CommonName: "relay", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := NewDefaultConfig()
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = write("ca.crt", ca.CertPEM), write("relay.crt", kp.CertPEM), write("relay.key", kp.KeyPEM)
	cfg.SignalAddr, cfg.TURNAddr, cfg.MetricsAddr = freePort(t, "tcp"), freePort(t, "udp"), freePort(t, "tcp")
	cfg.ID = "relay-x"

	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), ktesting.NewLogger(t, ktesting.NewConfig())))
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + cfg.MetricsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	node, _ := ca.Issue(pki.NodeSpec("node-a"))
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	c, err := relay.Dial(dctx, relay.ClientOptions{Addr: cfg.SignalAddr, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{node.TLSCertificate()}, RootCAs: ca.Pool(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.RelayID != "relay-x" || w.TURNAddr != cfg.TURNAddr {
		t.Fatalf("welcome %+v", w)
	}
	resp, err := http.Get("http://" + cfg.MetricsAddr + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %v", err)
	}
	resp.Body.Close()
}
