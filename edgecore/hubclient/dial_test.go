package hubclient

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/outpostmesh/outpost/pki"
)

// TestLoadTLSConfig: the config built from PEM files connects to the hub.
func TestLoadTLSConfig(t *testing.T) {
	dir := t.TempDir()
	var caFile, certFile, keyFile string
	e := newEdge(t, func(o *Options) {
		ca := caOf(t, o)
		kp, err := ca.Issue(pki.NodeSpec("edge-1"))
		if err != nil {
			t.Fatal(err)
		}
		caFile, certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
		for f, b := range map[string][]byte{caFile: ca.CertPEM, certFile: kp.CertPEM, keyFile: kp.KeyPEM} {
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if o.TLSConfig, err = LoadTLSConfig(caFile, certFile, keyFile); err != nil {
			t.Fatal(err)
		}
	})
	e.start(t)
	if s := e.hub.next(t); s.node != "edge-1" {
		t.Fatalf("session of %q", s.node)
	}
	if _, err := LoadTLSConfig(caFile, keyFile, keyFile); err == nil {
		t.Fatal("a key as certificate was accepted")
	}
	if _, err := LoadTLSConfig(filepath.Join(dir, "missing"), certFile, keyFile); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing CA: %v", err)
	}
}
