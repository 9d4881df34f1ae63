package metaserver

import (
	"context"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestClientset lists and gets through a real client-go Clientset.
func TestClientset(t *testing.T) {
	ctx := context.Background()
	e := startEnv(t, "", "", metastoreOpts(), Options{})
	e.apply(
		pod("shop", "web-1", "10", "edge-1", `"app":"web","tier":"front"`),
		pod("shop", "web-2", "11", "edge-2", `"app":"web","tier":"front"`),
		pod("shop", "db-1", "12", "edge-1", `"app":"db"`),
		pod("ops", "agent", "13", "edge-1", `"app":"agent"`),
		service("shop", "web", "14", "10.96.0.10"),
		slice("shop", "web-abc", "web", "15", "10.1.0.7"),
		node("edge-1", "16", false),
		node("edge-2", "17", true),
	)
	pods := e.cs.CoreV1().Pods
	for _, tc := range []struct {
		name, ns string
		opts     metav1.ListOptions
		want     []string
	}{
		{"all namespaces", "", metav1.ListOptions{}, []string{"agent", "db-1", "web-1", "web-2"}},
		{"one namespace", "shop", metav1.ListOptions{}, []string{"db-1", "web-1", "web-2"}},
		{"label equality", "", metav1.ListOptions{LabelSelector: "app=web"}, []string{"web-1", "web-2"}},
		{"label set", "", metav1.ListOptions{LabelSelector: "app in (db,agent),!tier"}, []string{"agent", "db-1"}},
		{"label exists", "shop", metav1.ListOptions{LabelSelector: "tier"}, []string{"web-1", "web-2"}},
		{"spec.nodeName", "", metav1.ListOptions{FieldSelector: "spec.nodeName=edge-1"}, []string{"agent", "db-1", "web-1"}},
		{"nodeName and label", "shop", metav1.ListOptions{FieldSelector: "spec.nodeName=edge-1", LabelSelector: "app=web"}, []string{"web-1"}},
		{"metadata.name", "", metav1.ListOptions{FieldSelector: "metadata.name=web-2"}, []string{"web-2"}},
		{"metadata.namespace", "", metav1.ListOptions{FieldSelector: "metadata.namespace=ops"}, []string{"agent"}},
		{"field inequality", "shop", metav1.ListOptions{FieldSelector: "metadata.name!=web-1,status.phase=Running"}, []string{"db-1", "web-2"}},
		{"nothing", "nowhere", metav1.ListOptions{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := pods(tc.ns).List(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range l.Items {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("pods = %v, want %v", got, tc.want)
			}
			if l.ResourceVersion != "8" {
				t.Fatalf("list resourceVersion = %q, want the store revision 8", l.ResourceVersion)
			}
		})
	}

	p, err := pods("shop").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || p.Spec.NodeName != "edge-1" || p.ResourceVersion != "1" || p.Labels["tier"] != "front" {
		t.Fatalf("Get pod = %+v, %v", p, err)
	}
	if _, err := pods("shop").Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Get missing pod = %v, want NotFound", err)
	}
	n, err := e.cs.CoreV1().Nodes().Get(ctx, "edge-2", metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Fatalf("Get node = %+v, %v", n, err)
	}
	nodes, err := e.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{FieldSelector: "spec.unschedulable=false"})
	if err != nil || len(nodes.Items) != 1 || nodes.Items[0].Name != "edge-1" {
		t.Fatalf("schedulable nodes = %v, %v", nodes, err)
	}
	svc, err := e.cs.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.96.0.10" {
		t.Fatalf("Get service = %+v, %v", svc, err)
	}
	es, err := e.cs.DiscoveryV1().EndpointSlices("shop").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
	if err != nil || len(es.Items) != 1 || es.Items[0].Endpoints[0].Addresses[0] != "10.1.0.7" {
		t.Fatalf("EndpointSlices = %+v, %v", es, err)
	}
	if l, err := e.cs.CoordinationV1().Leases("kube-node-lease").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("Leases = %v, %v", l, err)
	}

	// Writes are refused with 405.
	if err := pods("shop").Delete(ctx, "web-1", metav1.DeleteOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Fatalf("Delete = %v, want MethodNotSupported", err)
	}
	if _, err := e.cs.CoreV1().ConfigMaps("shop").Create(ctx, nil, metav1.CreateOptions{}); err == nil {
		t.Fatal("Create succeeded")
	}

	// A client that prefers protobuf gets JSON and decodes it.
	pcfg := rest.CopyConfig(e.cfg)
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pcs, err := kubernetes.NewForConfig(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := pcs.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 3 {
		t.Fatalf("protobuf-preferring client: %v, %v", l, err)
	}

	// Discovery and version.
	v, err := e.cs.Discovery().ServerVersion()
	if err != nil || v.Major != "1" || v.Minor != "36" {
		t.Fatalf("ServerVersion = %+v, %v", v, err)
	}
	_, lists, err := e.cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			served[l.GroupVersion+"/"+r.Name] = r.Namespaced
		}
	}
	for _, want := range []string{"v1/pods", "v1/services", "v1/endpoints", "v1/configmaps", "v1/secrets", "v1/nodes",
		"v1/namespaces", "v1/serviceaccounts", "v1/events", "discovery.k8s.io/v1/endpointslices", "coordination.k8s.io/v1/leases"} {
		if _, ok := served[want]; !ok {
			t.Errorf("discovery lacks %s (has %v)", want, served)
		}
	}
	if served["v1/nodes"] || !served["v1/pods"] {
		t.Errorf("discovery scopes wrong: nodes namespaced=%v pods namespaced=%v", served["v1/nodes"], served["v1/pods"])
	}
}
