package enroll

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/outpostmesh/outpost/pki"
)

// tlsServer serves h over TLS with a certificate of ca, asking for client certificates.
func tlsServer(t *testing.T, ca *pki.CA, h http.Handler) *httptest.Server {
	t.Helper()
	kp, err := ca.Issue(pki.ServerSpec("test", []string{"127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestFetchCAPin(t *testing.T) {
	ca := newCA(t)
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathCA {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(ca.CertPEM)
	}))
	ctx := context.Background()
	cert, b, err := FetchCA(ctx, srv.URL, ca.Hash(), time.Second*5)
	if err != nil || pki.Hash(cert) != ca.Hash() || string(b) != string(ca.CertPEM) {
		t.Fatalf("FetchCA with the right pin: %v", err)
	}
	other := newCA(t)
	if _, _, err := FetchCA(ctx, srv.URL, other.Hash(), 0); !errors.Is(err, ErrCAPinMismatch) {
		t.Fatalf("FetchCA with another pin: %v, want ErrCAPinMismatch", err)
	}
}

// TestPostMapsReasons: every Reason the server answers comes back as its sentinel; an unknown
// reason or a non-JSON answer is still a clear error.
func TestPostMapsReasons(t *testing.T) {
	ca := newCA(t)
	var answer []byte
	var status int
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write(answer)
	}))
	c := HTTPClient(&tls.Config{RootCAs: ca.Pool()}, 5*time.Second)
	defer c.CloseIdleConnections()
	for _, r := range reasons {
		reason, st := ReasonOf(r.err)
		if reason != r.reason || st != r.status || ErrorOf(reason) != r.err {
			t.Fatalf("reason table of %v inconsistent", r.err)
		}
		status = st
		answer, _ = json.Marshal(ErrorResponse{Reason: reason, Message: "because"})
		if err := Post(context.Background(), c, srv.URL+"/x", struct{}{}, &CertResponse{}); !errors.Is(err, r.err) {
			t.Errorf("reason %s: %v, want %v", reason, err, r.err)
		}
	}
	status, answer = http.StatusTeapot, []byte(`{"reason":"Weird","message":"m"}`)
	if err := Post(context.Background(), c, srv.URL+"/x", struct{}{}, &CertResponse{}); err == nil || err.Error() != "Weird: m" {
		t.Errorf("unknown reason: %v", err)
	}
	status, answer = http.StatusBadGateway, []byte("<html>")
	if err := Post(context.Background(), c, srv.URL+"/x", struct{}{}, &CertResponse{}); err == nil {
		t.Error("a non-JSON error answer was accepted")
	}
	status, answer = http.StatusOK, []byte("not json")
	if err := Post(context.Background(), c, srv.URL+"/x", struct{}{}, &CertResponse{}); err == nil {
		t.Error("a non-JSON success answer was accepted")
	}
}

// TestRequestServiceAccountToken: the request carries the node certificate of a rotating
// GetClientCertificate and the body fields; the answer is decoded.
func TestRequestServiceAccountToken(t *testing.T) {
	ca := newCA(t)
	node, err := ca.Issue(pki.NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	srv := tlsServer(t, ca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ServiceAccountTokenRequest
		if r.URL.Path != PathServiceAccountToken || len(r.TLS.PeerCertificates) == 0 ||
			json.NewDecoder(r.Body).Decode(&req) != nil || req.PodUID != "uid-1" || req.ExpirationSeconds != 3600 {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(ErrorResponse{Reason: "BadRequest", Message: "unexpected request"})
			return
		}
		_ = json.NewEncoder(w).Encode(ServiceAccountTokenResponse{Token: "jwt", ExpirationTimestamp: exp})
	}))
	cfg := &tls.Config{RootCAs: ca.Pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := node.TLSCertificate()
		return &c, nil
	}}
	req := ServiceAccountTokenRequest{Namespace: "ns", PodName: "p", PodUID: "uid-1", ServiceAccountName: "default", ExpirationSeconds: 3600}
	resp, err := RequestServiceAccountToken(context.Background(), srv.URL, cfg, req, 5*time.Second)
	if err != nil || resp.Token != "jwt" || !resp.ExpirationTimestamp.Equal(exp) {
		t.Fatalf("RequestServiceAccountToken: %+v, %v", resp, err)
	}
	req.PodUID = "other"
	if _, err := RequestServiceAccountToken(context.Background(), srv.URL, cfg, req, 5*time.Second); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("refused request: %v, want ErrBadRequest", err)
	}
}

func TestBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"cloud:10002":           "https://cloud:10002",
		"https://cloud:10002/":  "https://cloud:10002",
		"http://127.0.0.1:1234": "http://127.0.0.1:1234",
	} {
		if got := BaseURL(in); got != want {
			t.Errorf("BaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}
