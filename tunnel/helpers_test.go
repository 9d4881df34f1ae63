package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/pki"
	"github.com/outpostmesh/outpost/tunnel/relay"
)

func TestMain(m *testing.M) {
	// klog's flush daemon is process-wide, not ours.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"))
}

func newCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("outpost-test-ca", 0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func nodeCert(t testing.TB, ca *pki.CA, name string) tls.Certificate {
	t.Helper()
	kp, err := ca.Issue(pki.NodeSpec(name))
	if err != nil {
		t.Fatal(err)
	}
	return kp.TLSCertificate()
}

type testRelay struct {
	once   sync.Once
	srv    *relay.Server
	cancel context.CancelFunc
	done   chan error
}

func (r *testRelay) addr() string { return r.srv.SignalAddr().String() }

func (r *testRelay) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// startRelay runs a relay on loopback: signalling on TCP, STUN/TURN on UDP.
func startRelay(t testing.TB, ca *pki.CA, id string, mod func(*relay.Options)) *testRelay {
	t.Helper()
	kp, err := ca.Issue(pki.CertSpec{CommonName: "relay", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := relay.Options{
		ID:             id,
		TURNAddr:       "127.0.0.1:0",
		Cert:           kp.TLSCertificate(),
		Roots:          ca.Pool(),
		SignalListener: ln,
		Logger:         ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2))).WithName(id),
	}
	if mod != nil {
		mod(&opts)
	}
	srv, err := relay.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &testRelay{srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// testAgentOptions are loopback options for node name with the given relays.
func testAgentOptions(t testing.TB, ca *pki.CA, name string, relays ...*testRelay) Options {
	opts := Options{
		NodeName:        name,
		Cert:            nodeCert(t, ca, name),
		Roots:           ca.Pool(),
		ListenAddr:      "127.0.0.1:0",
		IncludeLoopback: true,
		PunchTimeout:    3 * time.Second,
		PunchRetryMin:   200 * time.Millisecond,
		RelayRetryMin:   100 * time.Millisecond,
		RelayRetryMax:   time.Second,
		Logger:          ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2))).WithName(name),
		Registerer:      prometheus.NewRegistry(),
	}
	for _, r := range relays {
		opts.Relays = append(opts.Relays, RelayConfig{Addr: r.addr(), ServerName: "127.0.0.1"})
	}
	return opts
}

func startAgent(t testing.TB, opts Options) *Agent {
	t.Helper()
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// waitRelaysUp waits until every agent has an allocation on every relay.
func waitRelaysUp(t testing.TB, agents ...*Agent) {
	t.Helper()
	eventually(t, 10*time.Second, func() bool {
		for _, a := range agents {
			for _, r := range a.Relays() {
				if !r.Up {
					return false
				}
			}
		}
		return true
	}, "relays up")
}

func eventually(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveEcho accepts streams on a and echoes them (reply = "hdr:" + header + data) until a closes.
func serveEcho(a *Agent) {
	go func() {
		for {
			s, err := a.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				defer s.Close()
				if _, err := s.Write(append([]byte(s.Peer()+":"), s.Header()...)); err != nil {
					return
				}
				_, _ = io.Copy(s, s)
				_ = s.CloseWrite()
			}()
		}
	}()
}

func peerStatus(a *Agent, name string) PeerStatus {
	for _, s := range a.Status() {
		if s.Peer == name {
			return s
		}
	}
	return PeerStatus{Peer: name, Path: PathNone}
}

// echoOnce dials, checks the greeting, sends msg, half-closes and checks the echo.
func echoOnce(t testing.TB, ctx context.Context, from *Agent, to, header, msg string) Stream {
	t.Helper()
	s, err := from.Dial(ctx, to, []byte(header))
	if err != nil {
		t.Fatalf("dial %s: %v", to, err)
	}
	defer s.Close()
	if _, err := s.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read: %v", err)
	}
	want := from.NodeName() + ":" + header + msg
	if string(got) != want {
		t.Fatalf("echo = %q, want %q", got, want)
	}
	return s
}
