package cri

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSocketPath(t *testing.T) {
	for in, want := range map[string]string{
		"unix:///run/containerd/containerd.sock": "/run/containerd/containerd.sock",
		"/run/c.sock":                            "/run/c.sock",
	} {
		if got, err := socketPath(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "tcp://127.0.0.1:1", "unix://relative", "relative.sock"} {
		if _, err := socketPath(bad); !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

// fakeServer answers Version and ExecSync over a real unix socket.
type fakeServer struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	got *runtimeapi.ExecSyncRequest
}

func (f *fakeServer) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeServer) ExecSync(_ context.Context, r *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	f.got = r
	return &runtimeapi.ExecSyncResponse{Stdout: []byte("out"), ExitCode: 3}, nil
}

func TestDialAndExecSync(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fs := &fakeServer{}
	runtimeapi.RegisterRuntimeServiceServer(srv, fs)
	go srv.Serve(ln)
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, _, code, err := Execer{Runtime: c.Runtime}.ExecSync(ctx, "c1", []string{"true"}, 1500*time.Millisecond)
	if err != nil || string(out) != "out" || code != 3 {
		t.Fatalf("exec: %q %d %v", out, code, err)
	}
	if fs.got.ContainerId != "c1" || fs.got.Timeout != 2 {
		t.Errorf("request %v (timeout rounds up to whole seconds)", fs.got)
	}
	if _, err := Dial(ctx, "unix://"+filepath.Join(t.TempDir(), "absent.sock")); err == nil {
		t.Error("dial of an absent socket succeeded")
	}
}
