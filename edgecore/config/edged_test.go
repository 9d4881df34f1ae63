package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEdgedDefaultsAndValidation(t *testing.T) {
	base := "apiVersion: outpost.dev/v1alpha1\nkind: EdgeCoreConfig\nnodeName: edge-1\n" +
		"hub: {url: 'wss://cloud:10000/hub', caFile: /p/ca.crt, certFile: /p/n.crt, keyFile: /p/n.key}\n" +
		"metaStore: {path: /d/meta.db}\nmetaServer: {addr: '127.0.0.1:10350'}\n"
	c, err := Parse([]byte(base)) // a file written before edged existed
	if err != nil {
		t.Fatal(err)
	}
	if c.Edged.Enabled || c.Edged.CRIEndpoint != DefaultCRIEndpoint || c.Edged.ClusterDNS != DefaultClusterDNS || c.Edged.CNIBridge != "outpost0" || c.Edged.StreamAddr != DefaultStreamAddr {
		t.Errorf("defaults %+v", c.Edged)
	}
	c, err = Parse([]byte(base + "edged: {enabled: true, rootDir: /r, syncPeriod: 5s, maxPods: 20}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Edged.Enabled || c.Edged.RootDir != "/r" || c.Edged.SyncPeriod.Duration != 5*time.Second || c.Edged.MaxPods != 20 || c.Edged.PodLogsDir != DefaultPodLogsDir {
		t.Errorf("parsed %+v", c.Edged)
	}
	for _, bad := range []string{
		"edged: {enabled: true, criEndpoint: 'tcp://x:1'}",
		"edged: {enabled: true, rootDir: relative}",
		"edged: {enabled: true, clusterDNS: nope}",
		"edged: {enabled: true, cniBridge: a-very-long-bridge-name}",
		"edged: {enabled: true, maxPods: -1}",
		"edged: {enabled: true, surprise: 1}",
		"edged: {enabled: true, streamAddr: '0.0.0.0:10250'}",
		"edged: {enabled: true, streamAddr: '10.1.0.11:10250'}",
		"edged: {enabled: true, streamAddr: '127.0.0.1'}",
		"edged: {enabled: true, streamAddr: '127.0.0.1:0'}",
		"edged: {enabled: true, streamAddr: 'localhost:10250'}",
	} {
		if _, err := Parse([]byte(base + bad + "\n")); !errors.Is(err, ErrInvalid) {
			t.Errorf("accepted %q: %v", bad, err)
		}
	}
	for _, good := range []string{"127.0.0.1:11250", "'[::1]:10250'"} {
		c, err := Parse([]byte(base + "edged: {enabled: true, streamAddr: " + good + "}\n"))
		if err != nil || c.Edged.StreamAddr != strings.Trim(good, "'") {
			t.Errorf("streamAddr %s: %v", good, err)
		}
	}
	if _, err := Parse([]byte(base + "edged: {enabled: false, clusterDNS: nope}\n")); err != nil {
		t.Errorf("disabled edged validated: %v", err)
	}
	if b, _ := NewDefault().Marshal(); !strings.Contains(string(b), "criEndpoint: unix:///run/containerd/containerd.sock") {
		t.Errorf("--defaultconfig lacks edged:\n%s", b)
	}
}
