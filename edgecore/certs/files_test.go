package certs

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/outpostmesh/outpost/enroll"
	"github.com/outpostmesh/outpost/pki"
)

// renewServer is a minimal cloud over TLS: POST /renew signs the CSR for the node of the client
// certificate; GET /whoami answers the serial of the client certificate of the connection.
func renewServer(t *testing.T, ca *pki.CA) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+enroll.PathRenew, func(w http.ResponseWriter, r *http.Request) {
		node, err := pki.VerifyNode(r.TLS.PeerCertificates[0], nil, ca.Pool(), "")
		var req enroll.RenewRequest
		if err == nil {
			err = json.NewDecoder(r.Body).Decode(&req)
		}
		var certPEM []byte
		if err == nil {
			csr, perr := pki.ParseCSR([]byte(req.CSRPEM))
			if err = perr; err == nil {
				certPEM, err = ca.SignCSR(csr, pki.NodeSpec(node))
			}
		}
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(enroll.ErrorResponse{Reason: "Unauthenticated", Message: err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(enroll.CertResponse{CertPEM: string(certPEM), CAPEM: string(ca.CertPEM)})
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, r.TLS.PeerCertificates[0].SerialNumber.String())
	})
	kp, err := ca.Issue(pki.ServerSpec("cloud", []string{"127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestRenewOverTLS: a real renewal through enroll.Renew replaces both files atomically (key
// 0600, no temporary files left), and a client using the rotator's TLS config presents the new
// certificate on its next handshake.
func TestRenewOverTLS(t *testing.T) {
	n := newNode(t)
	srv := renewServer(t, n.ca)
	o := n.options(t)
	o.Renew, o.Endpoint, o.Clock = enroll.Renew, srv.URL, clock.RealClock{}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: r.TLSConfig(), DisableKeepAlives: true}}
	whoami := func() string {
		t.Helper()
		resp, err := c.Get(srv.URL + "/whoami")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := r.Current()
	if got := whoami(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("server saw %s, want the first certificate %s", got, first.Cert.SerialNumber)
	}
	if err := r.RenewNow(t.Context()); err != nil {
		t.Fatalf("RenewNow: %v", err)
	}
	cur := r.Current()
	if got := whoami(); got != cur.Cert.SerialNumber.String() || got == first.Cert.SerialNumber.String() {
		t.Fatalf("next handshake presented %s, want the renewed %s", got, cur.Cert.SerialNumber)
	}
	onDisk, err := loadPair(n.certFile, n.keyFile)
	if err != nil || onDisk.Cert.SerialNumber.Cmp(cur.Cert.SerialNumber) != 0 {
		t.Fatalf("files: %v", err)
	}
	if keyMatches(&pki.KeyPair{Cert: onDisk.Cert, Key: first.Key}) == nil {
		t.Fatal("the renewal kept the old key")
	}
	st, err := os.Stat(n.keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	ents, err := os.ReadDir(n.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"ca.crt", "node.crt", "node.key"}) {
		t.Fatalf("directory holds %v", names)
	}
}

// TestInterruptedRenewal: a crash after the certificate's rename leaves the new key in
// key.next; New completes the renewal. A key.next that matches nothing is removed.
func TestInterruptedRenewal(t *testing.T) {
	n := newNode(t)
	renewed := n.issue(t, "edge-1", n.clock.Now())
	if err := os.WriteFile(n.certFile, renewed.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.keyFile+nextSuffix, renewed.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r := n.rotator(t)
	if r.Current().Cert.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatal("the committed renewal was not loaded")
	}
	if _, err := os.Stat(n.keyFile + nextSuffix); !os.IsNotExist(err) {
		t.Fatalf("key.next left behind: %v", err)
	}

	// A crash before the commit: the old pair is intact and the stray key is dropped.
	n2 := newNode(t)
	if err := os.WriteFile(n2.keyFile+nextSuffix, n2.issue(t, "edge-1", n2.clock.Now()).KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := loadPair(n2.certFile, n2.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	r2 := n2.rotator(t)
	if r2.Current().Cert.SerialNumber.Cmp(before.Cert.SerialNumber) != 0 {
		t.Fatal("the old pair was not kept")
	}
	if _, err := os.Stat(n2.keyFile + nextSuffix); !os.IsNotExist(err) {
		t.Fatalf("stray key.next left behind: %v", err)
	}
}
