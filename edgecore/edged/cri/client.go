package cri

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ErrInvalidEndpoint reports an endpoint that is not unix:///path or a plain path.
var ErrInvalidEndpoint = errors.New("cri: invalid endpoint")

// maxMsgSize matches the kubelet's: a ListContainers answer of a busy node exceeds grpc's 4 MiB.
const maxMsgSize = 16 << 20

// Client is a connection to a CRI runtime.
type Client struct {
	// Runtime is the runtime service (sandboxes, containers, exec).
	Runtime runtimeapi.RuntimeServiceClient
	// Images is the image service.
	Images runtimeapi.ImageServiceClient

	conn *grpc.ClientConn
}

// Dial connects to endpoint (unix:///run/containerd/containerd.sock or a plain socket path)
// and checks with a Version call, bounded by ctx, that a CRI v1 runtime answers.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	path, err := socketPath(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("passthrough:///"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("cri: dial %s: %w", endpoint, err)
	}
	c := &Client{Runtime: runtimeapi.NewRuntimeServiceClient(conn), Images: runtimeapi.NewImageServiceClient(conn), conn: conn}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Runtime.Version(vctx, &runtimeapi.VersionRequest{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cri: version of %s: %w", endpoint, err)
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func socketPath(endpoint string) (string, error) {
	path, found := strings.CutPrefix(endpoint, "unix://")
	if !found && strings.Contains(endpoint, "://") {
		return "", fmt.Errorf("%w: %q (only unix sockets)", ErrInvalidEndpoint, endpoint)
	}
	if path == "" || !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("%w: %q (want unix:///absolute/path)", ErrInvalidEndpoint, endpoint)
	}
	return path, nil
}
