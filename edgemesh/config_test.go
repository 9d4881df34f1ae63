package edgemesh

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	def := NewDefaultConfig()
	round, err := ParseConfig(def.YAML())
	if err != nil {
		t.Fatalf("the default config does not parse: %v\n%s", err, def.YAML())
	}
	if round.DNS.TTL.Duration != 5*time.Second || round.Tunnel.ListenAddr != def.Tunnel.ListenAddr {
		t.Fatalf("round trip changed the config: %+v", round)
	}
	good := "apiVersion: outpost.dev/v1alpha1\nkind: EdgeMeshAgentConfig\nnodeName: a1\nproxy:\n  connectTimeout: 500ms\n"
	c, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "a1" || c.Proxy.ConnectTimeout.Duration != 500*time.Millisecond || !c.DNS.Enabled {
		t.Fatalf("parsed %+v", c)
	}
	for name, bad := range map[string]string{
		"wrong kind":    "apiVersion: outpost.dev/v1alpha1\nkind: Other\n",
		"no version":    "kind: EdgeMeshAgentConfig\n",
		"unknown field": "apiVersion: outpost.dev/v1alpha1\nkind: EdgeMeshAgentConfig\nbogus: 1\n",
		"bad duration":  "apiVersion: outpost.dev/v1alpha1\nkind: EdgeMeshAgentConfig\ndns:\n  ttl: soon\n",
		"negative":      "apiVersion: outpost.dev/v1alpha1\nkind: EdgeMeshAgentConfig\nproxy:\n  retries: -1\n",
		"bad cidr":      "apiVersion: outpost.dev/v1alpha1\nkind: EdgeMeshAgentConfig\ntunnel:\n  excludeCandidateCIDRs: [10.0.0.0/33]\n",
		"not yaml":      "\t{{{",
	} {
		if _, err := ParseConfig([]byte(bad)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", name, err)
		}
	}
}

// TestManifestConfigParses: the configuration the DaemonSet ships is valid.
func TestManifestConfigParses(t *testing.T) {
	b, err := os.ReadFile("../manifests/edgemesh/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Proxy.CoexistWithKubeProxy || c.DNS.NodeLocalIP != "169.254.96.16" {
		t.Fatalf("manifest config: %+v", c)
	}
}
