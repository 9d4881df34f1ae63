package imageimport

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// DefaultNamespace is the containerd namespace the CRI plugin uses.
const DefaultNamespace = "k8s.io"

// Options says where to import.
type Options struct {
	// Address is containerd's socket, "unix:///run/containerd/containerd.sock" or a bare path;
	// empty means DefaultAddress.
	Address string
	// Namespace is the containerd namespace; empty means DefaultNamespace (the one CRI serves).
	Namespace string
	// Ctr is the ctr binary; empty means "ctr" looked up on PATH.
	Ctr string
	// Timeout bounds the whole import; zero means 2 minutes.
	Timeout time.Duration
	// Logger receives progress; the zero value discards it.
	Logger klog.Logger

	// dial and runCtr replace gRPC and exec in unit tests.
	dial   func(ctx context.Context, socket string) (criClient, error)
	runCtr func(ctx context.Context, ctr string, args ...string) ([]byte, error)
}

// Image is an imported image as CRI lists it.
type Image struct {
	// Name is the name the archive carried (CRI resolves it; RepoTags lists the normalized one).
	Name string
	// ID is CRI's image id (the config digest, "sha256:...").
	ID string
	// RepoTags are CRI's names for the image.
	RepoTags []string
	// Size is the unpacked size CRI reports, in bytes.
	Size uint64
}

// Import loads the archive at path into containerd and returns the images CRI now lists.
// It checks the archive and containerd's CRI before running ctr, so bad input fails fast.
func Import(ctx context.Context, path string, opts Options) ([]Image, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.dial == nil {
		opts.dial = dialCRI
	}
	if opts.runCtr == nil {
		opts.runCtr = execCtr
	}
	log := opts.Logger

	names, err := ArchiveNames(path)
	if err != nil {
		return nil, err
	}
	socket, err := SocketPath(opts.Address)
	if err != nil {
		return nil, err
	}
	cri, err := opts.dial(ctx, socket)
	if err != nil {
		return nil, err
	}
	defer cri.Close()
	vctx, vcancel := context.WithTimeout(ctx, 5*time.Second)
	version, err := cri.Version(vctx)
	vcancel()
	if err != nil {
		return nil, fmt.Errorf("%w: CRI at %s: %w", ErrUnreachable, opts.Address, err)
	}
	ctr := opts.Ctr
	if ctr == "" {
		ctr = "ctr"
	}
	if ctr, err = exec.LookPath(ctr); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCtr, err)
	}
	log.V(2).Info("Importing image archive", "path", path, "images", names, "runtime", version, "namespace", opts.Namespace)
	// --all-platforms keeps ctr from dropping content an archive declares for another platform;
	// ctr still unpacks the host's platform into the default snapshotter, which CRI needs.
	out, err := opts.runCtr(ctx, ctr, "--address", socket, "--namespace", opts.Namespace,
		"images", "import", "--all-platforms", path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w: %s", ErrCtrFailed, path, err, strings.TrimSpace(string(out)))
	}
	var imgs []Image
	for _, n := range names {
		img, err := waitListed(ctx, cri, n)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
		log.Info("Imported image", "name", n, "id", img.ID)
	}
	return imgs, nil
}

// waitListed asks CRI for the image until it knows it: CRI learns of images through
// containerd's events, a moment after ctr returns. Bounded by 10 s and the context.
func waitListed(ctx context.Context, cri criClient, name string) (Image, error) {
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for attempt := 0; ; attempt++ {
		img, err := cri.ImageStatus(ctx, name)
		if err == nil && img != nil {
			return Image{Name: name, ID: img.GetId(), RepoTags: img.GetRepoTags(), Size: img.GetSize()}, nil
		}
		lastErr = err
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return Image{}, fmt.Errorf("%w: %s: %w", ErrNotListed, name, ctx.Err())
		case <-time.After(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond):
		}
	}
	if lastErr == nil {
		lastErr = errors.New("ImageStatus returned no image")
	}
	return Image{}, fmt.Errorf("%w: %s: %w", ErrNotListed, name, lastErr)
}

func execCtr(ctx context.Context, ctr string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, ctr, args...).CombinedOutput()
}
