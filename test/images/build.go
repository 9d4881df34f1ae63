package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrUnknownImage is returned by Build for a name outside the catalogue.
var ErrUnknownImage = errors.New("images: unknown image")

// BuildOptions says where archives go.
type BuildOptions struct {
	// CacheDir holds the archives, named by content; empty means <repo>/.cache/images.
	CacheDir string
}

// built memoises Build within a process: two lab containerds share one go build.
var built struct {
	mu     sync.Mutex
	images map[string]Image
}

// RepoRoot is the root of the source tree this package was built from.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles the image's Go program (static: CGO_ENABLED=0) and returns its archive,
// written under CacheDir unless an archive of the same content is already there.
func Build(ctx context.Context, name string, opts BuildOptions) (Image, error) {
	src, ok := catalogue[name]
	if !ok {
		return Image{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownImage, name, strings.Join(Names(), ", "))
	}
	dir := opts.CacheDir
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".cache", "images")
	}
	key := dir + "\x00" + name
	built.mu.Lock()
	defer built.mu.Unlock()
	if img, ok := built.images[key]; ok {
		if _, err := os.Stat(img.Path); err == nil {
			return img, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Image{}, fmt.Errorf("images: %w", err)
	}
	bin, err := goBuild(ctx, src.pkg, dir)
	if err != nil {
		return Image{}, err
	}
	var buf bytes.Buffer
	img, err := WriteArchive(&buf, src.spec, bin)
	if err != nil {
		return Image{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	base := strings.NewReplacer("/", "_", ":", "_").Replace(name)
	img.Path = filepath.Join(dir, base+"-"+hex.EncodeToString(sum[:8])+".tar")
	if _, err := os.Stat(img.Path); err != nil {
		if err := writeAtomic(img.Path, buf.Bytes()); err != nil {
			return Image{}, err
		}
	}
	if built.images == nil {
		built.images = map[string]Image{}
	}
	built.images[key] = img
	return img, nil
}

// BuildAll builds every image of the catalogue, pause first.
func BuildAll(ctx context.Context, opts BuildOptions) ([]Image, error) {
	var out []Image
	for _, n := range Names() {
		img, err := Build(ctx, n, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// goBuild compiles pkg into a temporary file in dir and returns the binary's bytes.
func goBuild(ctx context.Context, pkg, dir string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	tmp, err := os.CreateTemp(dir, "bin-*")
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// -trimpath and an empty build id keep the binary (and so the image digest) the same for
	// the same sources on any machine with the same Go version.
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", tmp.Name(), pkg)
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("images: go build %s: %w: %s", pkg, err, strings.TrimSpace(string(out)))
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	return b, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("images: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("images: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("images: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("images: %w", err)
	}
	return nil
}
