package hubclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/hubproto/wsconn"
	"github.com/outpostmesh/outpost/pki"
)

// testHub is a minimal hub: TLS with client certificates of the test CA, the websocket
// upgrade, a yamux server, the control stream. Each session is handed to the test.
type testHub struct {
	t        *testing.T
	ca       *pki.CA
	srv      *httptest.Server
	sessions chan *hubSession
	pongs    chan string // pong payloads received from edges

	mu   sync.Mutex
	live []*hubSession
	wg   sync.WaitGroup
}

// hubSession is the cloud's view of one edge session.
type hubSession struct {
	node   string // from the client certificate
	ws     *websocket.Conn
	hello  *hubproto.Hello
	mux    *yamux.Session
	ctrl   net.Conn
	frames chan *hubproto.Frame // frames the edge sent after hello; closed when the stream ends
}

func newTestHub(t *testing.T, ca *pki.CA) *testHub {
	t.Helper()
	h := &testHub{t: t, ca: ca, sessions: make(chan *hubSession, 8), pongs: make(chan string, 8)}
	serving, err := ca.Issue(pki.CertSpec{CommonName: "hub", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	h.srv.StartTLS()
	t.Cleanup(h.close)
	return h
}

func (h *testHub) url() string { return "wss" + strings.TrimPrefix(h.srv.URL, "https") + "/hub" }

var upgrader = websocket.Upgrader{Subprotocols: []string{hubproto.Subprotocol}}

func (h *testHub) serve(w http.ResponseWriter, r *http.Request) {
	node, err := pki.VerifyNode(r.TLS.PeerCertificates[0], nil, h.ca.Pool(), "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetPongHandler(func(data string) error {
		select {
		case h.pongs <- data:
		default:
		}
		return nil
	})
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = nil
	cfg.Logger = yamuxLogger{}
	mux, err := yamux.Server(wsconn.NewWithOptions(ws, wsconn.Options{CloseMessage: true}), cfg)
	if err != nil {
		ws.Close()
		return
	}
	ctrl, err := mux.AcceptStream()
	if err != nil {
		mux.Close()
		return
	}
	f, err := hubproto.ReadFrame(ctrl, 0)
	if err != nil || f.Type != hubproto.TypeHello {
		h.t.Errorf("first frame: %+v, %v", f, err)
		mux.Close()
		return
	}
	s := &hubSession{node: node, ws: ws, hello: f.Hello, mux: mux, ctrl: ctrl, frames: make(chan *hubproto.Frame, 64)}
	h.mu.Lock()
	h.live = append(h.live, s)
	h.wg.Add(1)
	h.mu.Unlock()
	go func() { // owned by the hub: ends when the session closes; close() waits for it
		defer h.wg.Done()
		defer close(s.frames)
		for {
			f, err := hubproto.ReadFrame(ctrl, 0)
			if err != nil {
				return
			}
			select { // prefer delivering what was read over noticing the close
			case s.frames <- f:
			default:
				select {
				case s.frames <- f:
				case <-mux.CloseChan():
					return
				}
			}
		}
	}()
	h.sessions <- s
}

func (h *testHub) close() {
	h.srv.Close()
	h.mu.Lock()
	for _, s := range h.live {
		s.mux.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// next waits for the next session.
func (h *testHub) next(t *testing.T) *hubSession {
	t.Helper()
	select {
	case s := <-h.sessions:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no session")
		return nil
	}
}

func (s *hubSession) send(t *testing.T, f *hubproto.Frame) {
	t.Helper()
	if err := hubproto.WriteFrame(s.ctrl, f); err != nil {
		t.Fatalf("hub send %s: %v", f.Type, err)
	}
}

// sendRaw writes a payload with a length prefix, bypassing the encoder's checks.
func (s *hubSession) sendRaw(t *testing.T, payload string) {
	t.Helper()
	b := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	copy(b[4:], payload)
	if _, err := s.ctrl.Write(b); err != nil {
		t.Fatalf("hub send raw: %v", err)
	}
}

// recv waits for the edge's next frame; nil if the session ended.
func (s *hubSession) recv(t *testing.T) *hubproto.Frame {
	t.Helper()
	select {
	case f := <-s.frames:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame from the edge")
		return nil
	}
}

// clientTLS is the edge's TLS config for node.
func clientTLS(t *testing.T, ca *pki.CA, node string) *tls.Config {
	t.Helper()
	kp, err := ca.Issue(pki.NodeSpec(node))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return &tls.Config{Certificates: []tls.Certificate{kp.TLSCertificate()}, RootCAs: roots}
}
