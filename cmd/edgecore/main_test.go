package main

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/outpostmesh/outpost/edgecore/config"
)

func TestDefaultConfigFlag(t *testing.T) {
	cmd := newCommand()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--defaultconfig"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kind: EdgeCoreConfig") || !strings.Contains(out.String(), "interval: 10s") {
		t.Fatalf("--defaultconfig printed %s", out.String())
	}
	cmd = newCommand()
	cmd.SetArgs([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")})
	if err := cmd.Execute(); err == nil {
		t.Fatal("ran without a config file")
	}
}

func TestWriteKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", config.DefaultKubeconfigName)
	if err := writeKubeconfig(path, "http://127.0.0.1:10350"); err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "http://127.0.0.1:10350" || rc.CertData != nil || rc.BearerToken != "" {
		t.Fatalf("rest config %+v", rc)
	}
}
