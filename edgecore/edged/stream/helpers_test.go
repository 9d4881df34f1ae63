package stream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2/ktesting"
)

const waitTimeout = 5 * time.Second

// fakeResolver knows one container ("ns/pod/app") and its sandbox.
type fakeResolver struct {
	mu           sync.Mutex
	logPath      string
	prevLogPath  string
	lastPrevious bool
}

func (f *fakeResolver) Container(ns, pod, ctr string, previous bool) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastPrevious = previous
	if ns != "ns" || pod != "pod" || ctr != "app" {
		return "", "", fmt.Errorf("no container %s/%s/%s: %w", ns, pod, ctr, ErrNotFound)
	}
	if previous {
		if f.prevLogPath == "" {
			return "", "", fmt.Errorf("no previous instance: %w", ErrNotFound)
		}
		return "cid-prev", f.prevLogPath, nil
	}
	return "cid", f.logPath, nil
}

// sandboxResolver adds the SandboxResolver interface.
type sandboxResolver struct{ *fakeResolver }

func (sandboxResolver) Sandbox(ns, pod string) (string, error) {
	if ns != "ns" || pod != "pod" {
		return "", fmt.Errorf("no pod %s/%s: %w", ns, pod, ErrNotFound)
	}
	return "sandbox-1", nil
}

// fakeRuntime answers the CRI calls the stream server makes; the embedded
// interface panics on anything else.
type fakeRuntime struct {
	runtimeapi.RuntimeServiceClient
	mu       sync.Mutex
	url      string
	state    runtimeapi.ContainerState
	notFound bool
	exec     *runtimeapi.ExecRequest
	attach   *runtimeapi.AttachRequest
	pf       *runtimeapi.PortForwardRequest
}

func (f *fakeRuntime) setState(s runtimeapi.ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, in *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notFound {
		return nil, status.Error(codes.NotFound, "gone")
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: in.ContainerId, State: f.state}}, nil
}

func (f *fakeRuntime) Exec(_ context.Context, in *runtimeapi.ExecRequest, _ ...grpc.CallOption) (*runtimeapi.ExecResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exec = in
	return &runtimeapi.ExecResponse{Url: f.url + "/exec/token1"}, nil
}

func (f *fakeRuntime) Attach(_ context.Context, in *runtimeapi.AttachRequest, _ ...grpc.CallOption) (*runtimeapi.AttachResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attach = in
	return &runtimeapi.AttachResponse{Url: f.url + "/attach/token2"}, nil
}

func (f *fakeRuntime) PortForward(_ context.Context, in *runtimeapi.PortForwardRequest, _ ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pf = in
	return &runtimeapi.PortForwardResponse{Url: f.url + "/portforward/token3"}, nil
}

// env is a Server over a temp log file, served on loopback.
type env struct {
	t        *testing.T
	dir      string
	log      string
	resolver *fakeResolver
	runtime  *fakeRuntime
	srv      *Server
	http     *httptest.Server
}

func newEnv(t *testing.T, withSandbox bool) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, log: filepath.Join(dir, "0.log")}
	e.resolver = &fakeResolver{logPath: e.log}
	e.runtime = &fakeRuntime{state: runtimeapi.ContainerState_CONTAINER_RUNNING}
	var res Resolver = e.resolver
	if withSandbox {
		res = sandboxResolver{e.resolver}
	}
	srv, err := New(Options{
		Resolver: res, Runtime: e.runtime,
		Logger:       ktesting.NewLogger(t, ktesting.NewConfig()),
		PollInterval: 5 * time.Millisecond, StatusInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv)
	t.Cleanup(e.http.Close)
	return e
}

func (e *env) write(lines ...string) {
	e.t.Helper()
	e.writeTo(e.log, lines...)
}

func (e *env) writeTo(path string, lines ...string) {
	e.t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		e.t.Fatal(err)
	}
}

// get does a GET and returns status and body.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+path, nil)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// rec formats one CRI log record.
func rec(ts time.Time, stream, tag, content string) string {
	return ts.Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + content + "\n"
}
