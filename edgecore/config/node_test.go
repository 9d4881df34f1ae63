package config

import (
	"errors"
	"strings"
	"testing"
)

// A file written before nodeStatus, healthAddr and metaServer.kubeconfig existed still loads,
// with the node status defaults.
func TestOlderFileGetsNodeStatusDefaults(t *testing.T) {
	old := `apiVersion: outpost.dev/v1alpha1
kind: EdgeCoreConfig
nodeName: edge-1
hub: {url: "wss://cloud:10000/hub", caFile: /p/ca.crt, certFile: /p/node.crt, keyFile: /p/node.key}
metaStore: {path: /d/meta.db}
metaServer: {addr: "127.0.0.1:10350"}
`
	c, err := Parse([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeStatus != DefaultNodeStatus() || c.HealthAddr != "" || c.MetaServer.Kubeconfig != "" {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{
		old + "nodeStatus: {kubeletPort: 70000}\n",
		old + "nodeStatus: {nodeIP: not-an-ip}\n",
		old + "nodeStatus: {interval: -1s}\n",
		old + "healthAddr: nowhere\n",
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("accepted %q: %v", bad[strings.LastIndex(bad[:len(bad)-1], "\n")+1:], err)
		}
	}
}
