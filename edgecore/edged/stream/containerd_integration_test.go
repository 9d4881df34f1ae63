//go:build integration

package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2/ktesting"

	"github.com/outpostmesh/outpost/test/images"
	"github.com/outpostmesh/outpost/test/lab"
)

// labResolver knows the one pod the test runs.
type labResolver struct {
	sandboxID, containerID, logPath string
}

func (l *labResolver) Container(ns, pod, ctr string, previous bool) (string, string, error) {
	if ns != "default" || pod != "web" || ctr != "app" || previous {
		return "", "", fmt.Errorf("%s/%s/%s: %w", ns, pod, ctr, ErrNotFound)
	}
	return l.containerID, l.logPath, nil
}

func (l *labResolver) Sandbox(ns, pod string) (string, error) {
	if ns != "default" || pod != "web" {
		return "", fmt.Errorf("%s/%s: %w", ns, pod, ErrNotFound)
	}
	return l.sandboxID, nil
}

// TestStreamAgainstContainerd serves logs and exec of a testapp container
// run by the lab's real containerd, through this package's Server, with
// client-go's SPDY executor as kubectl/the apiserver would use it.
func TestStreamAgainstContainerd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := lab.ForTest(t)
	n, err := r.NewNetwork(lab.Topology{Public: []string{"edge"}})
	if err != nil {
		t.Fatal(err)
	}
	h := n.Public["edge"]
	c, err := h.StartContainerd(ctx, lab.ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := runTestApp(t, ctx, c)

	srv, err := New(Options{
		Resolver: res, Runtime: c.Runtime, DialContext: h.DialContext,
		Logger:       ktesting.NewLogger(t, ktesting.NewConfig()),
		PollInterval: 20 * time.Millisecond, StatusInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	// Logs: what testapp wrote at start, with the CRI prefix stripped.
	body := getBody(t, ctx, hs, "/containerLogs/default/web/app?stream=Stderr")
	if !strings.Contains(body, "testapp: listening on") || strings.Contains(body, " stderr F ") {
		t.Errorf("logs = %q, want testapp's start line without CRI prefixes", body)
	}

	// Exec over the proxied websocket: stdout, stderr and exit codes.
	res1, err := execIn(ctx, hs, "testapp", "echo", "hello", "from", "exec")
	if err != nil || res1.stdout != "hello from exec\n" || !strings.Contains(res1.status, "Success") {
		t.Errorf("exec echo: %+v, %v", res1, err)
	}
	res2, err := execIn(ctx, hs, "testapp", "cat", "/proc/self/status")
	if err != nil || !strings.Contains(res2.stdout, "Name:\ttestapp") {
		t.Errorf("exec cat /proc/self/status: %q, %v", firstLine(res2.stdout), err)
	}
	res3, err := execIn(ctx, hs, "testapp", "nosuchmode")
	if err != nil || !strings.Contains(res3.stderr, "unknown mode") || !strings.Contains(res3.status, `"ExitCode"`) || !strings.Contains(res3.status, `"2"`) {
		t.Errorf("exec with exit 2: %+v, %v", res3, err)
	}
	// SPDY: the upgrade reaches containerd and its answer comes back.
	q := url.Values{"command": {"testapp", "echo", "x"}, "output": {"1"}}
	if code, proto := spdyHandshake(t, hs, "/exec/default/web/app?"+q.Encode(), "v4.channel.k8s.io", "v3.channel.k8s.io"); code != http.StatusSwitchingProtocols || proto != "v4.channel.k8s.io" {
		t.Errorf("SPDY exec handshake: %d %q, want 101 v4.channel.k8s.io", code, proto)
	}
	if code, proto := spdyHandshake(t, hs, "/portForward/default/web", "portforward.k8s.io"); code != http.StatusSwitchingProtocols || proto != "portforward.k8s.io" {
		t.Errorf("SPDY port-forward handshake: %d %q, want 101 portforward.k8s.io", code, proto)
	}

	// Follow: a request to the app shows up in the followed log; stopping
	// the container ends the stream.
	fctx, fcancel := context.WithTimeout(ctx, time.Minute)
	defer fcancel()
	req, _ := http.NewRequestWithContext(fctx, http.MethodGet, hs.URL+"/containerLogs/default/web/app?follow=true&tailLines=0&stream=Stdout", nil)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	appGet(t, ctx, h, "/env")
	waitLine(t, lines, "GET /env 200")
	if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: res.containerID, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-lines:
			ended = !ok
		case <-deadline:
			t.Fatal("followed log did not end after the container stopped")
		}
	}
}

// runTestApp runs testapp serving on port 18080 in a host-network sandbox
// (no CNI needed) and waits until it answers.
func runTestApp(t *testing.T, ctx context.Context, c *lab.Containerd) *labResolver {
	t.Helper()
	sb := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "uid-web"},
		LogDirectory: filepath.Join(c.Dir, "pods", "web"),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD},
		}},
	}
	if err := os.MkdirAll(sb.LogDirectory, 0o755); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sb})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := c.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: rs.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app"},
			Image:    &runtimeapi.ImageSpec{Image: images.TestAppImage},
			Envs:     []*runtimeapi.KeyValue{{Key: "PORT", Value: []byte("18080")}},
			LogPath:  "app.log",
		},
		SandboxConfig: sb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cc.ContainerId}); err != nil {
		t.Fatal(err)
	}
	appGet(t, ctx, c.Host, "/healthz")
	return &labResolver{sandboxID: rs.PodSandboxId, containerID: cc.ContainerId, logPath: filepath.Join(sb.LogDirectory, "app.log")}
}

// appGet fetches a path of the testapp inside the lab host, retrying while it starts.
func appGet(t *testing.T, ctx context.Context, h *lab.Host, path string) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return h.DialContext(ctx, network, "127.0.0.1:18080")
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var last error
	for range 50 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://app"+path, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", path, last)
}

func getBody(t *testing.T, ctx context.Context, hs *httptest.Server, path string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+path, nil)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// execResult is what a websocket exec returned.
type execResult struct {
	stdout, stderr string
	status         string // the v4 error channel's Status JSON ("" if none)
}

// execIn runs a command through /exec over a websocket with the
// v4.channel.k8s.io protocol (one leading byte per frame names the channel:
// 1 stdout, 2 stderr, 3 the final status). client-go's SPDY executor would
// need k8s.io/streaming, which go.sum does not hold.
func execIn(ctx context.Context, hs *httptest.Server, cmd ...string) (execResult, error) {
	var res execResult
	q := url.Values{"command": cmd, "output": {"1"}, "error": {"1"}}
	u := "ws" + strings.TrimPrefix(hs.URL, "http") + "/exec/default/web/app?" + q.Encode()
	d := websocket.Dialer{Subprotocols: []string{"v4.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			err = fmt.Errorf("%w: %d %s", err, resp.StatusCode, b)
		}
		return res, err
	}
	defer c.Close()
	if c.Subprotocol() != "v4.channel.k8s.io" {
		return res, fmt.Errorf("negotiated %q", c.Subprotocol())
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out, errOut, status bytes.Buffer
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "close") {
				break
			}
			return res, err
		}
		if len(b) == 0 {
			continue
		}
		switch b[0] {
		case 1:
			out.Write(b[1:])
		case 2:
			errOut.Write(b[1:])
		case 3:
			status.Write(b[1:])
		}
	}
	return execResult{stdout: out.String(), stderr: errOut.String(), status: status.String()}, nil
}

// spdyHandshake sends a SPDY/3.1 upgrade for exec and returns the status
// and negotiated protocol version: the handshake must pass the proxy both
// ways (speaking SPDY frames afterwards needs a client we lack).
func spdyHandshake(t *testing.T, hs *httptest.Server, path string, protocols ...string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(hs.URL, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: edge\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", path)
	for _, p := range protocols {
		req += "X-Stream-Protocol-Version: " + p + "\r\n"
	}
	fmt.Fprint(conn, req+"Content-Length: 0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Stream-Protocol-Version")
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("followed log ended before %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line with %q", want)
		}
	}
}
