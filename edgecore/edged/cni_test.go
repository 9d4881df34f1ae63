package edged

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/edgecore/edged/cniconf"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCNIConfigWrittenOnceForPodCIDR(t *testing.T) {
	h := newHarness(t)
	e := h.e
	e.nodeChanged(h.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}, Spec: corev1.NodeSpec{PodCIDR: "10.244.7.0/24"}})
	path := filepath.Join(e.o.CNIConfDir, cniConfName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	br := conf.Plugins[0]
	ipam := br["ipam"].(map[string]any)
	if br["type"] != "bridge" || br["bridge"] != DefaultCNIBridge || br["isGateway"] != true || br["ipMasq"] != true ||
		ipam["dataDir"] != filepath.Join(e.o.RootDir, "cni") || conf.Plugins[1]["type"] != "portmap" {
		t.Errorf("conflist %s", b)
	}
	if ranges := ipam["ranges"].([]any)[0].([]any)[0].(map[string]any); ranges["subnet"] != "10.244.7.0/24" {
		t.Errorf("subnet %v", ranges)
	}
	old := time.Unix(1000, 0)
	os.Chtimes(path, old, old)
	e.nodeChanged(h.ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}, Spec: corev1.NodeSpec{PodCIDR: "10.244.7.0/24"}})
	if info, _ := os.Stat(path); !info.ModTime().Equal(old) {
		t.Error("unchanged config rewritten")
	}
	if _, err := cniconf.Bridge("outpost0", "not-a-cidr", "/x"); err == nil {
		t.Error("bad podCIDR accepted")
	}
}

func TestDNSPolicies(t *testing.T) {
	h := newHarness(t)
	opt := "2"
	for _, tc := range []struct {
		name    string
		mutate  func(*corev1.Pod)
		servers []string
		nilConf bool
	}{
		{"clusterFirst", func(*corev1.Pod) {}, []string{DefaultClusterDNS}, false},
		{"withHostNet", func(p *corev1.Pod) { p.Spec.HostNetwork, p.Spec.DNSPolicy = true, corev1.DNSClusterFirstWithHostNet }, []string{DefaultClusterDNS}, false},
		{"none", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &opt}}}
		}, []string{"1.1.1.1"}, false},
	} {
		p := testPod("dns", app("a"))
		tc.mutate(p)
		got := h.e.dnsConfig(p)
		if got == nil || len(got.Servers) != len(tc.servers) || got.Servers[0] != tc.servers[0] {
			t.Errorf("%s: %v", tc.name, got)
		}
		if tc.name == "none" && (len(got.Options) != 1 || got.Options[0] != "ndots:2") {
			t.Errorf("none options %v", got.Options)
		}
	}
}
