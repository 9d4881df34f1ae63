package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	"github.com/outpostmesh/outpost/pki"
)

type rogueCase struct {
	name   string
	cert   func(t *testing.T, ca *pki.CA) tls.Certificate
	reason string
}

func rogueCases() []rogueCase {
	return []rogueCase{
		{"other CA", func(t *testing.T, _ *pki.CA) tls.Certificate { return nodeCert(t, newCA(t), "node-b") }, "unknown_authority"},
		{"expired", func(t *testing.T, ca *pki.CA) tls.Certificate {
			spec := pki.NodeSpec("node-b")
			spec.Now = time.Now().Add(-48 * time.Hour)
			spec.Validity = time.Hour
			kp, err := ca.Issue(spec)
			if err != nil {
				t.Fatal(err)
			}
			return kp.TLSCertificate()
		}, "expired"},
		{"wrong name", func(t *testing.T, ca *pki.CA) tls.Certificate { return nodeCert(t, ca, "node-c") }, "wrong_name"},
		{"not a node", func(t *testing.T, ca *pki.CA) tls.Certificate {
			kp, err := ca.Issue(pki.CertSpec{CommonName: "node-b", Client: true, Server: true})
			if err != nil {
				t.Fatal(err)
			}
			return kp.TLSCertificate()
		}, "wrong_name"},
	}
}

// TestIdentityRefusedByDialer: a listener posing as node-b with a bad certificate gets no
// connection from the agent dialing node-b, and the refusal is counted.
func TestIdentityRefusedByDialer(t *testing.T) {
	ca := newCA(t)
	a := startAgent(t, testAgentOptions(t, ca, "node-a"))
	for _, tc := range rogueCases() {
		t.Run(tc.name, func(t *testing.T) {
			udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer udp.Close()
			tr := &quic.Transport{Conn: udp}
			defer tr.Close()
			ln, err := tr.Listen(&tls.Config{
				Certificates: []tls.Certificate{tc.cert(t, ca)},
				ClientAuth:   tls.RequireAnyClientCert,
				NextProtos:   []string{alpn},
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			before := testutil.ToFloat64(a.metrics.refusals.WithLabelValues("client", tc.reason))
			conn, err := a.tr.Dial(ctx, ln.Addr(), a.clientTLS("node-b"), a.quicConfig())
			if err == nil {
				_ = conn.CloseWithError(0, "")
				t.Fatal("dial to impostor succeeded")
			}
			if got := testutil.ToFloat64(a.metrics.refusals.WithLabelValues("client", tc.reason)); got != before+1 {
				t.Errorf("refusals{client,%s} = %v, want %v (err %v)", tc.reason, got, before+1, err)
			}
		})
	}
}

// TestIdentityRefusedByListener: a client with a bad certificate (other CA, expired, not a
// node) cannot connect to an agent, nothing is accepted, and the refusal is counted.
func TestIdentityRefusedByListener(t *testing.T) {
	ca := newCA(t)
	b := startAgent(t, testAgentOptions(t, ca, "node-b"))
	cases := rogueCases()[:2]
	cases = append(cases, rogueCase{"our own name", func(t *testing.T, ca *pki.CA) tls.Certificate { return nodeCert(t, ca, "node-b") }, "self"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			before := testutil.ToFloat64(b.metrics.refusals.WithLabelValues("server", tc.reason))
			udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer udp.Close()
			tr := &quic.Transport{Conn: udp}
			defer tr.Close()
			conn, err := tr.Dial(ctx, b.LocalAddr(), &tls.Config{
				Certificates:       []tls.Certificate{tc.cert(t, ca)},
				InsecureSkipVerify: true,
				NextProtos:         []string{alpn},
			}, nil)
			if err == nil {
				// TLS 1.3: the client may finish before the server rejects its certificate.
				_, err = conn.AcceptStream(ctx)
				_ = conn.CloseWithError(0, "")
			}
			var te *quic.TransportError
			if err == nil || (!errors.As(err, &te) && ctx.Err() != nil) {
				t.Fatalf("impostor connection: %v", err)
			}
			eventually(t, 2*time.Second, func() bool {
				return testutil.ToFloat64(b.metrics.refusals.WithLabelValues("server", tc.reason)) == before+1
			}, "refusal counted")
			if st := b.Status(); len(st) != 0 {
				t.Errorf("impostor became a peer: %+v", st)
			}
		})
	}
}

// TestNewChecksOwnCert: an agent refuses to start with a certificate for another node.
func TestNewChecksOwnCert(t *testing.T) {
	ca := newCA(t)
	opts := testAgentOptions(t, ca, "node-a")
	opts.Cert = nodeCert(t, ca, "node-z")
	if _, err := New(opts); !errors.Is(err, ErrPeerIdentity) {
		t.Fatalf("New = %v, want ErrPeerIdentity", err)
	}
}
