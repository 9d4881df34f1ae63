package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

func TestJoin(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, time.Hour)
	creds, err := e.join(tok.String(), "edge-1")
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	kp, err := pki.ParseKeyPair(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := pki.VerifyNode(kp.Cert, nil, e.ca.Pool(), "edge-1"); err != nil || name != "edge-1" {
		t.Fatalf("joined certificate: %q, %v", name, err)
	}
	if got := kp.Cert.NotAfter.Sub(e.clock.Now()); got < DefaultCertValidity-time.Hour || got > DefaultCertValidity+time.Hour {
		t.Errorf("certificate valid for %s, want about %s", got, DefaultCertValidity)
	}
	if creds.HubURL != testHubURL || string(creds.CAPEM) != string(e.ca.CertPEM) {
		t.Errorf("hub URL %q / CA mismatch", creds.HubURL)
	}

	// The Node is registered as an edge node.
	n, err := e.client.CoreV1().Nodes().Get(context.Background(), "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node not registered: %v", err)
	}
	if v, ok := n.Labels[EdgeRoleLabel]; !ok || v != "" || !hasTaint(n) {
		t.Errorf("node labels %v taints %v", n.Labels, n.Spec.Taints)
	}

	// The token is spent: a replay is refused, for this node or another.
	for _, node := range []string{"edge-1", "edge-2"} {
		if _, err := e.join(tok.String(), node); !errors.Is(err, ErrTokenUsed) {
			t.Errorf("replayed token for %s: %v, want ErrTokenUsed", node, err)
		}
	}
	if _, err := e.client.CoreV1().Nodes().Get(context.Background(), "edge-2", metav1.GetOptions{}); err == nil {
		t.Error("a refused join registered a node")
	}
}

func TestJoinRefusals(t *testing.T) {
	e := newEnv(t)
	expired := e.token(t, time.Minute)
	e.clock.Add(2 * time.Minute)
	good := e.token(t, time.Hour)
	wrongSecret := Token{ID: good.ID, Secret: "0000000000000000"}

	tests := []struct {
		name, token, node string
		want              error
	}{
		{"expired", expired.String(), "edge-1", ErrTokenExpired},
		{"unknown", "zzzzzz.0123456789abcdef", "edge-1", ErrTokenUnknown},
		{"wrong secret", wrongSecret.String(), "edge-1", ErrTokenUnknown},
		{"malformed", "not-a-token", "edge-1", ErrTokenMalformed},
		{"bad node name", good.String(), "Edge_1", ErrInvalidNodeName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Send the request by hand: Join itself refuses malformed input before sending.
			csrPEM, _, _, err := pki.NewCSR(pki.NodeCommonName(tt.node), []string{pki.NodesGroup})
			if err != nil {
				t.Fatal(err)
			}
			err = e.post(enroll.PathJoin, enroll.JoinRequest{Token: tt.token, NodeName: tt.node, CSRPEM: string(csrPEM)}, nil)
			if !errors.Is(err, tt.want) {
				t.Fatalf("join: %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("CSR for another node", func(t *testing.T) {
		csrPEM, _, _, err := pki.NewCSR(pki.NodeCommonName("edge-2"), []string{pki.NodesGroup})
		if err != nil {
			t.Fatal(err)
		}
		err = e.post(enroll.PathJoin, enroll.JoinRequest{Token: good.String(), NodeName: "edge-1", CSRPEM: string(csrPEM)}, nil)
		if !errors.Is(err, ErrNodeNameMismatch) {
			t.Fatalf("join: %v, want ErrNodeNameMismatch", err)
		}
	})
	t.Run("garbage CSR", func(t *testing.T) {
		err := e.post(enroll.PathJoin, enroll.JoinRequest{Token: good.String(), NodeName: "edge-1", CSRPEM: "garbage"}, nil)
		if !errors.Is(err, ErrCSRInvalid) {
			t.Fatalf("join: %v, want ErrCSRInvalid", err)
		}
	})
	t.Run("refusals do not spend the token", func(t *testing.T) {
		if _, err := e.join(good.String(), "edge-1"); err != nil {
			t.Fatalf("join with the good token after refusals: %v", err)
		}
	})
}

func TestJoinPinMismatch(t *testing.T) {
	e := newEnv(t)
	other, err := pki.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, time.Hour)
	_, err = enroll.Join(context.Background(), enroll.JoinOptions{Endpoint: e.url, Token: tok.String(), CAHash: other.Hash(), NodeName: "edge-1"})
	if !errors.Is(err, ErrCAPinMismatch) {
		t.Fatalf("join with a wrong pin: %v, want ErrCAPinMismatch", err)
	}
	// Nothing happened on the cloud side: the token is still good.
	if _, err := e.join(tok.String(), "edge-1"); err != nil {
		t.Fatalf("join after a pin mismatch: %v", err)
	}
}

func TestRegisterExistingNode(t *testing.T) {
	e := newEnv(t)
	existing := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", Labels: map[string]string{"site": "a"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "other", Effect: corev1.TaintEffectNoExecute}}}}
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), existing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.join(e.token(t, time.Hour).String(), "edge-1"); err != nil {
		t.Fatal(err)
	}
	n, err := e.client.CoreV1().Nodes().Get(context.Background(), "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["site"] != "a" || len(n.Spec.Taints) != 2 || !isEdge(n) {
		t.Fatalf("node after rejoin: labels %v taints %v", n.Labels, n.Spec.Taints)
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t)
	creds, err := e.join(e.token(t, time.Hour).String(), "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	current, err := pki.ParseKeyPair(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	renewed, err := enroll.Renew(ctx, e.url, e.ca.Pool(), current, 0)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	kp, err := pki.ParseKeyPair(renewed.CertPEM, renewed.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.VerifyNode(kp.Cert, nil, e.ca.Pool(), "edge-1"); err != nil {
		t.Fatalf("renewed certificate: %v", err)
	}
	if kp.Cert.SerialNumber.Cmp(current.Cert.SerialNumber) == 0 {
		t.Fatal("renewal returned the same certificate")
	}

	other, err := pki.NewCA("other", 0)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(pki.NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Renew(ctx, e.url, e.ca.Pool(), foreign, 0); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("renew with another CA's certificate: %v, want ErrUnauthenticated", err)
	}
	if err := e.post(enroll.PathRenew, enroll.RenewRequest{CSRPEM: "x"}, nil); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("renew without a certificate: %v, want ErrUnauthenticated", err)
	}

	// A CSR for another node, with edge-1's certificate.
	csrPEM, _, _, err := pki.NewCSR(pki.NodeCommonName("edge-2"), []string{pki.NodesGroup})
	if err != nil {
		t.Fatal(err)
	}
	c := enroll.HTTPClient(&tls.Config{RootCAs: e.ca.Pool(), Certificates: []tls.Certificate{current.TLSCertificate()}}, 0)
	defer c.CloseIdleConnections()
	if err := enroll.Post(ctx, c, e.url+enroll.PathRenew, enroll.RenewRequest{CSRPEM: string(csrPEM)}, &enroll.CertResponse{}); !errors.Is(err, ErrNodeNameMismatch) {
		t.Fatalf("renew for another node: %v, want ErrNodeNameMismatch", err)
	}
}

// post sends a request trusting the test CA, without a client certificate.
func (e *env) post(path string, body any, into any) error {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert)
	c := enroll.HTTPClient(&tls.Config{RootCAs: pool}, 0)
	defer c.CloseIdleConnections()
	if into == nil {
		into = &enroll.CertResponse{}
	}
	return enroll.Post(context.Background(), c, e.url+path, body, into)
}

func TestGetCA(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.url + enroll.PathCA)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ca: %s", resp.Status)
	}
}
