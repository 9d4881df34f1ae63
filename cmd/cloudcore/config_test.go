package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestConfig(t *testing.T) {
	b, err := yaml.Marshal(newDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// The default names no public address: it must be set.
	if _, err := parseConfig(b); !errors.Is(err, errInvalidConfig) {
		t.Fatalf("default config accepted without publicAddresses: %v", err)
	}
	good := strings.Replace(string(b), "publicAddresses: []", "publicAddresses: [cloud.example, 198.18.0.2]", 1)
	c, err := parseConfig([]byte(good))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, good)
	}
	if c.hubURL() != "wss://cloud.example:10000/hub" || c.Hub.PongTimeout.Duration != 45*time.Second || c.EdgeController.Workers != 2 {
		t.Fatalf("parsed %+v, hub URL %s", c, c.hubURL())
	}
	// A partial file keeps the defaults of what it does not say.
	c, err = parseConfig([]byte("apiVersion: outpost.dev/v1alpha1\nkind: CloudCoreConfig\npublicAddresses: [\"2001:db8::1\"]\nhub: {addr: \":9000\", pingPeriod: 1s, pongTimeout: 3s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.hubURL() != "wss://[2001:db8::1]:9000/hub" || c.Join.Addr != ":10002" {
		t.Fatalf("partial: %+v, hub URL %s", c, c.hubURL())
	}
	for _, bad := range []string{
		strings.Replace(good, "CloudCoreConfig", "EdgeCoreConfig", 1),
		good + "surprise: 1\n",
		strings.Replace(good, "pongTimeout: 45s", "pongTimeout: 1s", 1),
		strings.Replace(good, "addr: :10002", "addr: nowhere", 1),
		strings.Replace(good, "workers: 2", "workers: 0", 1),
	} {
		if _, err := parseConfig([]byte(bad)); !errors.Is(err, errInvalidConfig) {
			t.Errorf("accepted:\n%s\nerr %v", bad, err)
		}
	}
}

func TestDefaultConfigFlag(t *testing.T) {
	cmd := newCommand()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--defaultconfig"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kind: CloudCoreConfig") {
		t.Fatalf("--defaultconfig printed %s", out.String())
	}
	cmd = newCommand()
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err == nil {
		t.Fatal("ran without --config")
	}
}
