package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/imageimport"
	"github.com/outpostmesh/outpost/test/images"
)

// Debian's containerd package puts the CNI plugins here (containernetworking-plugins).
const cniBinDir = "/usr/lib/cni"

// DefaultStreamPort is the CRI stream server's port on 127.0.0.1 inside a lab host. A fixed
// port is safe: every host has a network namespace of its own.
const DefaultStreamPort = 10010

// ContainerdOptions says how to run a lab containerd.
type ContainerdOptions struct {
	// StreamPort is the CRI stream server's port (exec/attach/port-forward) on 127.0.0.1 in
	// the host's namespace; 0 means DefaultStreamPort.
	StreamPort int
	// ExtraImages are more image archives (OCI or docker-archive tars) imported after the
	// lab's own images.
	ExtraImages []string
	// ImageCacheDir holds the built lab images; empty means <repo>/.cache/images.
	ImageCacheDir string
	// StartTimeout bounds the wait for CRI to answer; 0 means 30 s.
	StartTimeout time.Duration
}

// Containerd is a containerd running in a lab host's network namespace with everything of its
// own under Dir. The run stops it and removes what it made (containerd_cleanup.go).
//
// For edged: write the pod network's CNI conflist into CNIConfDir (containerd watches it) and
// give host-local IPAM "dataDir": CNIDataDir (its default, /var/lib/cni/networks, is shared by
// every containerd on the machine). Give sandboxes CgroupParent (or a path below it); without
// one, containers land in /sys/fs/cgroup/*/k8s.io/<id>, shared by every instance.
type Containerd struct {
	Host *Host
	// Dir holds the instance: root/, state/, the sockets, cni/.
	Dir string
	// Root and State are containerd's root and state directories.
	Root, State string
	// Socket is the CRI endpoint ("unix://" + SocketPath).
	Socket string
	// SocketPath is the gRPC socket's path (ctr's --address).
	SocketPath string
	// RuncRoot is runc's state directory (runc --root RuncRoot/k8s.io).
	RuncRoot string
	// CNIConfDir is empty at start; CNIBinDir holds the plugins; CNIDataDir is for host-local
	// IPAM's "dataDir".
	CNIConfDir, CNIBinDir, CNIDataDir string
	// CgroupParent is a cgroup path of this instance ("/outpost-lab-<run>-<host>") for
	// sandboxes' LinuxPodSandboxConfig.CgroupParent (the cgroupfs driver takes a plain path).
	// Cleanup removes it in every hierarchy. Sandboxes without a parent land in the shared
	// "/k8s.io"; cleanup removes only their own ids there.
	CgroupParent string
	// StreamAddr is the stream server's host:port inside the host's namespace.
	StreamAddr string
	// PauseImage is the sandbox image (images.PauseImage).
	PauseImage string
	// Images are the images imported at start, as CRI lists them.
	Images []imageimport.Image
	// Process is the containerd process.
	Process *Process

	// Runtime and ImageService are CRI clients over Socket, for tests; closed at cleanup.
	Runtime      runtimeapi.RuntimeServiceClient
	ImageService runtimeapi.ImageServiceClient

	conn       *grpc.ClientConn
	streamPort int
	// seen are the sandboxes and containers found at cleanup (ids, netns paths).
	seen seenObjects
}

// StartContainerd runs containerd in h's network namespace, waits until its CRI answers, and
// imports the lab's images (pause and testapp) plus opts.ExtraImages into namespace k8s.io.
// On failure what was started is still removed at the run's Close.
func (h *Host) StartContainerd(ctx context.Context, opts ContainerdOptions) (*Containerd, error) {
	r := h.run
	if opts.StreamPort == 0 {
		opts.StreamPort = DefaultStreamPort
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	dir := filepath.Join(r.Dir, "containerd-"+h.Name)
	c := &Containerd{
		Host: h, Dir: dir,
		Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		SocketPath: filepath.Join(dir, "containerd.sock"),
		RuncRoot:   filepath.Join(dir, "state", "runc"),
		CNIConfDir: filepath.Join(dir, "cni", "net.d"), CNIBinDir: cniBinDir,
		CNIDataDir:   filepath.Join(dir, "cni", "data"),
		CgroupParent: "/outpost-lab-" + r.ID + "-" + h.Name,
		StreamAddr:   fmt.Sprintf("127.0.0.1:%d", opts.StreamPort),
		PauseImage:   images.PauseImage,
		streamPort:   opts.StreamPort,
	}
	c.Socket = "unix://" + c.SocketPath
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("lab: %s already runs a containerd", h.Name)
	}
	cleanDeadContainerds(r.logf)
	// Built before containerd starts: a cold go build takes seconds, CRI answers in less.
	imgs, err := images.BuildAll(ctx, images.BuildOptions{CacheDir: opts.ImageCacheDir})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{c.Root, c.State, c.CNIConfDir, c.CNIDataDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := c.writeConfig(cfg); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	// Registered before the process, so it runs after containerd has stopped.
	r.Defer("containerd "+h.Name+" leftovers", c.removeLeftovers)
	// Network namespace only: runc needs /sys/fs/cgroup, and containerd's mounts must live in
	// the root mount namespace, where cleanup can see them (see ProcOptions.NetnsOnly).
	p, err := r.Start(h, "containerd-"+h.Name, []string{
		"containerd", "--config", cfg, "--log-level", "info"}, ProcOptions{Quiet: true, NetnsOnly: true})
	if err != nil {
		return nil, err
	}
	c.Process = p
	// Registered after the process, so it runs while containerd still answers.
	r.Defer("containerd "+h.Name+" pods", c.stopPods)
	if c.conn, err = grpc.NewClient(c.Socket, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return nil, fmt.Errorf("lab: containerd %s: %w", h.Name, err)
	}
	c.Runtime = runtimeapi.NewRuntimeServiceClient(c.conn)
	c.ImageService = runtimeapi.NewImageServiceClient(c.conn)
	if err := c.waitReady(ctx, opts.StartTimeout); err != nil {
		return nil, err
	}
	archives := make([]string, 0, len(imgs)+len(opts.ExtraImages))
	for _, img := range imgs {
		archives = append(archives, img.Path)
	}
	archives = append(archives, opts.ExtraImages...)
	for _, a := range archives {
		got, err := imageimport.Import(ctx, a, imageimport.Options{Address: c.Socket, Timeout: time.Minute})
		if err != nil {
			return nil, fmt.Errorf("lab: containerd %s: %w", h.Name, err)
		}
		c.Images = append(c.Images, got...)
	}
	return c, nil
}

// waitReady polls CRI Version and Status until the runtime condition is true. The network
// condition stays false until edged writes a CNI config, so it is not waited for.
func (c *Containerd) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-c.Process.Done():
			return fmt.Errorf("lab: containerd %s exited: %v\n%s", c.Host.Name, c.Process.Err(), c.Process.Tail(20))
		default:
		}
		actx, acancel := context.WithTimeout(ctx, time.Second)
		last = c.ready(actx)
		acancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: containerd %s not ready: %w (last: %v)\n%s", c.Host.Name, ctx.Err(), last, c.Process.Tail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Containerd) ready(ctx context.Context) error {
	if _, err := c.Runtime.Version(ctx, &runtimeapi.VersionRequest{}); err != nil {
		return err
	}
	st, err := c.Runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return err
	}
	for _, cond := range st.GetStatus().GetConditions() {
		if cond.Type == runtimeapi.RuntimeReady && !cond.Status {
			return errors.New("RuntimeReady false: " + cond.Message)
		}
	}
	return nil
}
