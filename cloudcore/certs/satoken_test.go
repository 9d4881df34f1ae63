package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

func testPod(name, node, uid, sa string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: node, ServiceAccountName: sa},
	}
}

// tokenEnv is an env with pods, service account "web" and a TokenRequest reactor that records
// what was asked.
type tokenEnv struct {
	*env
	reg  *prometheus.Registry
	asks []*authenticationv1.TokenRequest
}

func newTokenEnv(t *testing.T, mod func(*Options)) *tokenEnv {
	t.Helper()
	reg := prometheus.NewRegistry()
	e := &tokenEnv{reg: reg}
	e.env = newEnvWith(t, func(o *Options) {
		o.Registerer = reg
		if mod != nil {
			mod(o)
		}
	})
	for _, obj := range []runtime.Object{
		testPod("mine", "edge-1", "uid-mine", "web"),
		testPod("theirs", "edge-2", "uid-theirs", "web"),
		testPod("nosa", "edge-1", "uid-nosa", "gone"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}},
	} {
		if err := e.client.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	e.client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateActionImpl)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		e.asks = append(e.asks, tr)
		sa, err := e.client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("serviceaccounts"), ca.GetNamespace(), ca.Name)
		if err != nil {
			return true, nil, err
		}
		tr.Status = authenticationv1.TokenRequestStatus{
			Token:               "jwt-for-" + sa.(*corev1.ServiceAccount).Name + "-" + tr.Spec.BoundObjectRef.Name,
			ExpirationTimestamp: metav1.NewTime(e.clock.Now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second)),
		}
		return true, tr, nil
	})
	return e
}

// ask requests a token as node (no certificate for "").
func (e *tokenEnv) ask(t *testing.T, node string, req enroll.ServiceAccountTokenRequest) (*enroll.ServiceAccountTokenResponse, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: e.ca.Pool()}
	if node != "" {
		kp, err := e.ca.Issue(pki.NodeSpec(node))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{kp.TLSCertificate()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return enroll.RequestServiceAccountToken(ctx, e.url, cfg, req, 0)
}

func tokenReq(pod, uid, sa string) enroll.ServiceAccountTokenRequest {
	return enroll.ServiceAccountTokenRequest{Namespace: "shop", PodName: pod, PodUID: uid, ServiceAccountName: sa,
		Audiences: []string{"api"}, ExpirationSeconds: 3600}
}

func TestServiceAccountToken(t *testing.T) {
	e := newTokenEnv(t, nil)
	resp, err := e.ask(t, "edge-1", tokenReq("mine", "uid-mine", "web"))
	if err != nil {
		t.Fatalf("token for the node's own pod: %v", err)
	}
	if resp.Token != "jwt-for-web-mine" || resp.ExpirationTimestamp.Sub(e.clock.Now()) < 59*time.Minute {
		t.Fatalf("response %+v", resp)
	}
	if len(e.asks) != 1 {
		t.Fatalf("%d TokenRequests, want 1", len(e.asks))
	}
	spec := e.asks[0].Spec
	if ref := spec.BoundObjectRef; ref == nil || ref.Kind != "Pod" || ref.Name != "mine" || ref.UID != "uid-mine" ||
		len(spec.Audiences) != 1 || spec.Audiences[0] != "api" || *spec.ExpirationSeconds != 3600 {
		t.Fatalf("TokenRequest spec %+v (bound %+v)", spec, spec.BoundObjectRef)
	}
	if got := e.count(t, "serviceaccount-token", "OK"); got != 1 {
		t.Errorf("OK count %v, want 1", got)
	}
}

func TestServiceAccountTokenRefusals(t *testing.T) {
	e := newTokenEnv(t, nil)
	tests := []struct {
		name, node string
		req        enroll.ServiceAccountTokenRequest
		want       error
	}{
		{"another node's pod", "edge-1", tokenReq("theirs", "uid-theirs", "web"), enroll.ErrNotBoundToNode},
		{"wrong UID", "edge-1", tokenReq("mine", "uid-old", "web"), enroll.ErrPodUIDMismatch},
		{"wrong service account", "edge-1", tokenReq("mine", "uid-mine", "admin"), enroll.ErrServiceAccountMismatch},
		{"pod not found", "edge-1", tokenReq("ghost", "uid-ghost", "web"), enroll.ErrPodNotFound},
		{"service account gone", "edge-1", tokenReq("nosa", "uid-nosa", "gone"), enroll.ErrServiceAccountNotFound},
		{"no client certificate", "", tokenReq("mine", "uid-mine", "web"), enroll.ErrUnauthenticated},
		{"too short", "edge-1", func() enroll.ServiceAccountTokenRequest {
			r := tokenReq("mine", "uid-mine", "web")
			r.ExpirationSeconds = 60
			return r
		}(), enroll.ErrBadRequest},
		{"no pod name", "edge-1", tokenReq("", "uid-mine", "web"), enroll.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.ask(t, tt.node, tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	for _, a := range e.asks {
		if a.Spec.BoundObjectRef.Name != "nosa" {
			t.Errorf("a refused request reached the apiserver: %+v", a.Spec.BoundObjectRef)
		}
	}
	if got := e.count(t, "serviceaccount-token", "NotBoundToNode"); got != 1 {
		t.Errorf("NotBoundToNode count %v, want 1", got)
	}

	t.Run("another CA's certificate", func(t *testing.T) {
		other, err := pki.NewCA("other", 0)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := other.Issue(pki.NodeSpec("edge-1"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := &tls.Config{RootCAs: e.ca.Pool(), Certificates: []tls.Certificate{kp.TLSCertificate()}}
		if _, err := enroll.RequestServiceAccountToken(context.Background(), e.url, cfg, tokenReq("mine", "uid-mine", "web"), 0); !errors.Is(err, enroll.ErrUnauthenticated) {
			t.Fatalf("got %v, want ErrUnauthenticated", err)
		}
	})
}

// TestServiceAccountTokenRateLimit: a node over its burst is refused until its bucket refills;
// other nodes are not affected.
func TestServiceAccountTokenRateLimit(t *testing.T) {
	e := newTokenEnv(t, func(o *Options) { o.TokenRate, o.TokenBurst = 1, 2 })
	if err := e.client.Tracker().Add(testPod("b", "edge-2", "uid-b", "web")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := e.ask(t, "edge-1", tokenReq("mine", "uid-mine", "web")); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	if _, err := e.ask(t, "edge-1", tokenReq("mine", "uid-mine", "web")); !errors.Is(err, enroll.ErrTooManyRequests) {
		t.Fatalf("over the burst: %v, want ErrTooManyRequests", err)
	}
	if _, err := e.ask(t, "edge-2", tokenReq("b", "uid-b", "web")); err != nil {
		t.Fatalf("another node: %v", err)
	}
	e.clock.Add(2 * time.Second)
	if _, err := e.ask(t, "edge-1", tokenReq("mine", "uid-mine", "web")); err != nil {
		t.Fatalf("after the bucket refilled: %v", err)
	}
}

// count is outpost_cloudcore_certs_requests_total{endpoint, result}.
func (e *tokenEnv) count(t *testing.T, endpoint, result string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "outpost_cloudcore_certs_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
