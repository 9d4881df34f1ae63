package stream

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// streamingServer stands in for containerd's: it upgrades SPDY requests by
// hand and websocket ones with gorilla, then echoes upper-cased bytes.
type streamingServer struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	active sync.WaitGroup
}

func newStreamingServer(t *testing.T) *streamingServer {
	s := &streamingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.Close(); s.active.Wait() })
	return s
}

func (s *streamingServer) lastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return nil
	}
	return s.reqs[len(s.reqs)-1]
}

func (s *streamingServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Clone(r.Context()))
	s.mu.Unlock()
	s.active.Add(1)
	defer s.active.Done()
	if websocket.IsWebSocketUpgrade(r) {
		up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, bytes.ToUpper(b)); err != nil {
				return
			}
		}
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "SPDY/3.1") {
		http.Error(w, "want an upgrade", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
	_ = brw.Flush()
	buf := make([]byte, 1024)
	for {
		n, err := brw.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(bytes.ToUpper(buf[:n])); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// spdyUpgrade sends an upgrade request over a raw connection and returns
// the connection after a 101, or the response otherwise.
func spdyUpgrade(t *testing.T, e *env, method, path string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(e.http.URL, "http://"), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: edge\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"+
		"X-Stream-Protocol-Version: v5.channel.k8s.io\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n", method, path)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return conn, br, resp
}

func echo(t *testing.T, conn net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != strings.ToUpper(msg) {
		t.Fatalf("echo %q, want %q", got, strings.ToUpper(msg))
	}
}

func TestExecProxySPDY(t *testing.T) {
	e := newEnv(t, false)
	ss := newStreamingServer(t)
	e.runtime.url = ss.URL
	conn, br, resp := spdyUpgrade(t, e, "POST", "/exec/ns/pod/app?command=ls&command=-l&input=1&output=1&error=1&tty=1")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %s, want 101", resp.StatusCode, b)
	}
	if v := resp.Header.Get("X-Stream-Protocol-Version"); v != "v4.channel.k8s.io" {
		t.Errorf("negotiated protocol %q did not reach the client", v)
	}
	echo(t, conn, br, "hello from the client")
	echo(t, conn, br, strings.Repeat("ab", 300))

	req := ss.lastRequest()
	if req.URL.Path != "/exec/token1" || req.Method != "POST" {
		t.Errorf("streaming server got %s %s, want POST /exec/token1", req.Method, req.URL.Path)
	}
	if got := req.Header.Values("X-Stream-Protocol-Version"); len(got) != 2 || got[0] != "v5.channel.k8s.io" {
		t.Errorf("X-Stream-Protocol-Version at the runtime = %v", got)
	}
	if !strings.EqualFold(req.Header.Get("Connection"), "Upgrade") || req.Header.Get("Upgrade") != "SPDY/3.1" {
		t.Errorf("upgrade headers at the runtime: Connection=%q Upgrade=%q", req.Header.Get("Connection"), req.Header.Get("Upgrade"))
	}
	e.runtime.mu.Lock()
	x := e.runtime.exec
	e.runtime.mu.Unlock()
	if x.ContainerId != "cid" || strings.Join(x.Cmd, " ") != "ls -l" || !x.Stdin || !x.Stdout || x.Stderr || !x.Tty {
		t.Errorf("CRI exec request = %+v; want cid, ls -l, stdin+stdout+tty (stderr off with a tty)", x)
	}
}

func TestAttachAndPortForwardProxy(t *testing.T) {
	e := newEnv(t, true)
	ss := newStreamingServer(t)
	e.runtime.url = ss.URL

	conn, br, resp := spdyUpgrade(t, e, "POST", "/attach/ns/pod/app?output=1&error=1")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("attach: status %d", resp.StatusCode)
	}
	echo(t, conn, br, "attached")
	if p := ss.lastRequest().URL.Path; p != "/attach/token2" {
		t.Errorf("attach went to %s", p)
	}
	e.runtime.mu.Lock()
	a := e.runtime.attach
	e.runtime.mu.Unlock()
	if a.ContainerId != "cid" || a.Stdin || !a.Stdout || !a.Stderr {
		t.Errorf("CRI attach request = %+v", a)
	}

	conn, br, resp = spdyUpgrade(t, e, "POST", "/portForward/ns/pod")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("port-forward: status %d", resp.StatusCode)
	}
	echo(t, conn, br, "forwarded")
	if p := ss.lastRequest().URL.Path; p != "/portforward/token3" {
		t.Errorf("port-forward went to %s", p)
	}
	e.runtime.mu.Lock()
	pf := e.runtime.pf
	e.runtime.mu.Unlock()
	if pf.PodSandboxId != "sandbox-1" {
		t.Errorf("CRI port-forward request = %+v", pf)
	}
}

func TestExecProxyWebsocket(t *testing.T) {
	e := newEnv(t, false)
	ss := newStreamingServer(t)
	e.runtime.url = ss.URL
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: waitTimeout}
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/exec/ns/pod/app?command=date&output=1"
	c, resp, err := d.Dial(u, nil)
	if err != nil {
		t.Fatalf("websocket dial: %v (%v)", err, resp)
	}
	defer c.Close()
	if c.Subprotocol() != "v5.channel.k8s.io" {
		t.Errorf("subprotocol %q", c.Subprotocol())
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("\x00ws data")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil || string(b) != "\x00WS DATA" {
		t.Fatalf("websocket echo %q, %v", b, err)
	}
}

func TestProxyErrors(t *testing.T) {
	e := newEnv(t, false)
	ss := newStreamingServer(t)
	e.runtime.url = ss.URL
	for _, tc := range []struct {
		method, path string
		code         int
		msg          string
	}{
		{"POST", "/exec/ns/pod/app?output=1", 400, "command is required"},
		{"POST", "/exec/ns/pod/app?command=ls", 400, "at least one of stdin, stdout, stderr"},
		{"POST", "/exec/ns/pod/nope?command=ls&output=1", 404, "no container"},
		{"POST", "/attach/ns/pod/app", 400, "at least one of"},
		{"POST", "/portForward/ns/pod", 501, "cannot name sandboxes"},
		{"POST", "/portForward/ns/pod?port=99999", 400, "must be 1-65535"},
		{"DELETE", "/exec/ns/pod/app?command=ls&output=1", 405, ""},
		{"GET", "/pods/other", 404, ""},
	} {
		_, _, resp := spdyUpgrade(t, e, tc.method, tc.path)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s %s = %d %q, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.msg)
		}
	}
	// The streaming server is gone: 502, not a hang.
	ss.Close()
	_, _, resp := spdyUpgrade(t, e, "POST", "/exec/ns/pod/app?command=ls&output=1")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("dead streaming server: %d, want 502", resp.StatusCode)
	}
	// A runtime answering with a relative URL is an error, not a panic.
	e.runtime.url = "not-a-url"
	_, _, resp = spdyUpgrade(t, e, "POST", "/exec/ns/pod/app?command=ls&output=1")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("relative streaming URL: %d, want 500", resp.StatusCode)
	}
	// No runtime at all.
	srv, err := New(Options{Resolver: e.resolver})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/exec/ns/pod/app?command=ls&output=1", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("no runtime: %d, want 501", rec.Code)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a Resolver succeeded")
	}
}
