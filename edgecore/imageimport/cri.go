package imageimport

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultAddress is containerd's socket on a normal node.
const DefaultAddress = "unix:///run/containerd/containerd.sock"

// criClient is the part of CRI the import needs: is the runtime there, and does it list an image.
type criClient interface {
	Version(ctx context.Context) (string, error)
	ImageStatus(ctx context.Context, name string) (*runtimeapi.Image, error)
	Close() error
}

// SocketPath turns "unix:///path" (or a bare "/path") into the socket's path; ctr wants a path,
// gRPC a unix:// target.
func SocketPath(address string) (string, error) {
	p := strings.TrimPrefix(address, "unix://")
	if p == "" || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: address %q: want unix:///absolute/path", ErrUnreachable, address)
	}
	return p, nil
}

type grpcCRI struct {
	conn    *grpc.ClientConn
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
}

func dialCRI(_ context.Context, socket string) (criClient, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreachable, socket, err)
	}
	return &grpcCRI{conn: conn, runtime: runtimeapi.NewRuntimeServiceClient(conn), images: runtimeapi.NewImageServiceClient(conn)}, nil
}

func (c *grpcCRI) Version(ctx context.Context) (string, error) {
	v, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return "", err
	}
	return v.RuntimeName + " " + v.RuntimeVersion, nil
}

func (c *grpcCRI) ImageStatus(ctx context.Context, name string) (*runtimeapi.Image, error) {
	resp, err := c.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: name}})
	if err != nil {
		return nil, err
	}
	return resp.GetImage(), nil
}

func (c *grpcCRI) Close() error { return c.conn.Close() }
