package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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

func TestHealth(t *testing.T) {
	var notReady error = errors.New("hub not connected")
	h := &health{reg: prometheus.NewRegistry(), ready: func() error { return notReady }}
	srv := httptest.NewServer(h.handler())
	defer srv.Close()
	get := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/livez") != 200 || get("/readyz") != 503 || get("/metrics") != 200 {
		t.Fatal("health endpoints while not ready")
	}
	notReady = nil
	if get("/readyz") != 200 {
		t.Fatal("readyz once ready")
	}
}
