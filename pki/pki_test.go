package pki

import (
	"errors"
	"testing"
	"time"
)

func TestNodeIdentity(t *testing.T) {
	ca, err := NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("other-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	good, err := ca.Issue(NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(NodeSpec("edge-1"))
	if err != nil {
		t.Fatal(err)
	}
	expiredSpec := NodeSpec("edge-1")
	expiredSpec.Now = time.Now().Add(-48 * time.Hour)
	expiredSpec.Validity = time.Hour
	expired, err := ca.Issue(expiredSpec)
	if err != nil {
		t.Fatal(err)
	}
	notNode, err := ca.Issue(CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		kp      *KeyPair
		want    string
		wantErr error // nil: success; otherwise errors.Is target, or ErrAny
	}{
		{"valid, any node", good, "", nil},
		{"valid, right node", good, "edge-1", nil},
		{"another node's name", good, "edge-2", ErrNotNode},
		{"other CA", foreign, "edge-1", errAny},
		{"expired", expired, "edge-1", errAny},
		{"not a node", notNode, "", ErrNotNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyNode(tt.kp.Cert, nil, ca.Pool(), tt.want)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("VerifyNode: %v", err)
			case tt.wantErr == nil && got != "edge-1":
				t.Fatalf("VerifyNode = %q, want edge-1", got)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("VerifyNode accepted it as %q", got)
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("VerifyNode error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestRoundTripAndCSR(t *testing.T) {
	ca, err := NewCA("test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(ca.CertPEM, ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Hash() != ca.Hash() || len(ca.Hash()) != len("sha256:")+64 {
		t.Fatalf("hash mismatch or malformed: %s vs %s", loaded.Hash(), ca.Hash())
	}
	csrPEM, _, keyPEM, err := NewCSR("ignored", nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := loaded.SignCSR(csr, NodeSpec("edge-9"))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if name, err := VerifyNode(kp.Cert, nil, ca.Pool(), "edge-9"); err != nil || name != "edge-9" {
		t.Fatalf("signed CSR: %q, %v", name, err)
	}
	if _, err := LoadCA(kp.CertPEM, kp.KeyPEM); err == nil {
		t.Fatal("LoadCA accepted a leaf certificate")
	}
	for _, bad := range [][]byte{nil, []byte("garbage"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")} {
		if _, err := ParseCert(bad); err == nil {
			t.Fatalf("ParseCert(%q) accepted garbage", bad)
		}
		if _, err := ParseCSR(bad); err == nil {
			t.Fatalf("ParseCSR(%q) accepted garbage", bad)
		}
	}
}
