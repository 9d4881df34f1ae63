//go:build integration

package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/test/lab"
)

// TestServiceAccountTokenRealAPIServer: against a real kube-apiserver, a node gets a bound
// token for its own pod (the apiserver's TokenReview accepts it as that pod's service account)
// and is refused one for another node's pod.
func TestServiceAccountTokenRealAPIServer(t *testing.T) {
	run := lab.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cp, err := run.StartControlPlane(ctx, lab.ControlPlaneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := cp.Client()
	if err != nil {
		t.Fatal(err)
	}
	ns := "shop"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := map[string]*corev1.Pod{}
	for name, node := range map[string]string{"mine": "edge-1", "theirs": "edge-2"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "web", AutomountServiceAccountToken: new(bool),
				Containers: []corev1.Container{{Name: "app", Image: "app:latest"}}},
		}
		if pods[name], err = client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	ca, err := LoadOrCreateCA(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Options{Client: client, CA: ca, HubURL: "wss://127.0.0.1:1/hub", Logger: ktesting.NewLogger(t, ktesting.NewConfig())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	if srv.TLS, err = ServingTLSConfig(ca, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	defer srv.Close()
	node, err := ca.Issue(pki.NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{node.TLSCertificate()}}
	ask := func(p *corev1.Pod) (*enroll.ServiceAccountTokenResponse, error) {
		return enroll.RequestServiceAccountToken(ctx, srv.URL, cfg, enroll.ServiceAccountTokenRequest{
			Namespace: ns, PodName: p.Name, PodUID: string(p.UID), ServiceAccountName: "web", ExpirationSeconds: 3600}, 0)
	}

	resp, err := ask(pods["mine"])
	if err != nil {
		t.Fatalf("token for the node's own pod: %v", err)
	}
	if d := time.Until(resp.ExpirationTimestamp); d < 50*time.Minute || d > 70*time.Minute {
		t.Errorf("token expires in %v, want about an hour", d)
	}
	review, err := client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: resp.Token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := review.Status
	if !st.Authenticated || st.User.Username != "system:serviceaccount:shop:web" {
		t.Fatalf("TokenReview: authenticated %v as %q (%s)", st.Authenticated, st.User.Username, st.Error)
	}
	if got := st.User.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pods["mine"].UID) {
		t.Errorf("token bound to pod UID %v, want %s", got, pods["mine"].UID)
	}

	if _, err := ask(pods["theirs"]); !errors.Is(err, enroll.ErrNotBoundToNode) {
		t.Fatalf("token for another node's pod: %v, want ErrNotBoundToNode", err)
	}
}
