package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"
)

// ErrBadSpec is returned for a Spec that cannot make an image.
var ErrBadSpec = errors.New("images: bad spec")

// Spec describes an image made of one static binary.
type Spec struct {
	// Name is the image reference the archive carries, such as "outpost.local/testapp:v1".
	Name string
	// Path is where the binary lies inside the image, such as "/bin/testapp".
	Path string
	// Entrypoint is the image's entrypoint; empty means [Path].
	Entrypoint []string
	// Cmd is the image's default arguments.
	Cmd []string
	// Env is the image's environment ("KEY=value").
	Env []string
	// WorkingDir is the image's working directory; empty means "/".
	WorkingDir string
	// Dirs are empty directories the image carries besides the binary's ("/tmp" is made
	// world-writable with the sticky bit, as on a normal system).
	Dirs []string
}

// Image is what WriteArchive produced.
type Image struct {
	// Name is the image reference.
	Name string
	// ManifestDigest is the digest containerd stores the image under ("sha256:...").
	ManifestDigest string
	// ID is the config digest: what CRI reports as the image's id ("sha256:...").
	ID string
	// Path is the archive's file (set by Build, empty from WriteArchive).
	Path string
}

// epoch is every file's modification time, so the same binary gives the same digests.
var epoch = time.Unix(0, 0).UTC()

func (s Spec) validate(binary []byte) error {
	switch {
	case s.Name == "" || !strings.Contains(s.Name, ":"):
		return fmt.Errorf("%w: name %q needs a tag (repo:tag)", ErrBadSpec, s.Name)
	case !path.IsAbs(s.Path) || path.Clean(s.Path) != s.Path || s.Path == "/":
		return fmt.Errorf("%w: binary path %q must be a clean absolute file path", ErrBadSpec, s.Path)
	case len(binary) == 0:
		return fmt.Errorf("%w: empty binary", ErrBadSpec)
	}
	for _, d := range s.Dirs {
		if !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
			return fmt.Errorf("%w: directory %q must be a clean absolute path", ErrBadSpec, d)
		}
	}
	return nil
}

// WriteArchive writes an OCI image layout tar holding one image: a single gzip layer with the
// binary at spec.Path (mode 0755) and spec.Dirs. The output depends only on its inputs.
func WriteArchive(w io.Writer, spec Spec, binary []byte) (Image, error) {
	if err := spec.validate(binary); err != nil {
		return Image{}, err
	}
	layer, diffID, err := buildLayer(spec, binary)
	if err != nil {
		return Image{}, err
	}
	entry := spec.Entrypoint
	if len(entry) == 0 {
		entry = []string{spec.Path}
	}
	wd := spec.WorkingDir
	if wd == "" {
		wd = "/"
	}
	cfg, err := json.Marshal(imageConfig{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config:       runConfig{Entrypoint: entry, Cmd: spec.Cmd, Env: spec.Env, WorkingDir: wd},
		RootFS:       rootFS{Type: "layers", DiffIDs: []string{diffID}},
		History:      []history{{CreatedBy: "outpost test/images: " + spec.Path}},
	})
	if err != nil {
		return Image{}, fmt.Errorf("images: %w", err)
	}
	man, err := json.Marshal(manifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{MediaType: mediaTypeConfig, Digest: digest(cfg), Size: int64(len(cfg))},
		Layers:        []descriptor{{MediaType: mediaTypeLayer, Digest: digest(layer), Size: int64(len(layer))}},
	})
	if err != nil {
		return Image{}, fmt.Errorf("images: %w", err)
	}
	idx, err := json.Marshal(index{
		SchemaVersion: 2,
		MediaType:     mediaTypeIndex,
		Manifests: []descriptor{{
			MediaType:   mediaTypeManifest,
			Digest:      digest(man),
			Size:        int64(len(man)),
			Annotations: map[string]string{annotationRefName: spec.Name, annotationContainerdName: spec.Name},
			Platform:    &platform{Architecture: runtime.GOARCH, OS: "linux"},
		}},
	})
	if err != nil {
		return Image{}, fmt.Errorf("images: %w", err)
	}
	lay, _ := json.Marshal(layout{Version: "1.0.0"})

	tw := tar.NewWriter(w)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(dirHeader(d, 0o755)); err != nil {
			return Image{}, fmt.Errorf("images: write archive: %w", err)
		}
	}
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", lay},
		{"index.json", idx},
		{blobPath(cfg), cfg},
		{blobPath(layer), layer},
		{blobPath(man), man},
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, 0o644, f.data); err != nil {
			return Image{}, fmt.Errorf("images: write archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return Image{}, fmt.Errorf("images: write archive: %w", err)
	}
	return Image{Name: spec.Name, ManifestDigest: digest(man), ID: digest(cfg)}, nil
}

// buildLayer returns the gzip'd layer tar and its diff ID (the digest of the plain tar).
func buildLayer(spec Spec, binary []byte) (gz []byte, diffID string, err error) {
	dirs := map[string]bool{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	addParents(spec.Path)
	for _, d := range spec.Dirs {
		dirs[d] = true
		addParents(d)
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)

	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for _, d := range sorted {
		var mode int64 = 0o755
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(dirHeader(strings.TrimPrefix(d, "/")+"/", mode)); err != nil {
			return nil, "", fmt.Errorf("images: layer: %w", err)
		}
	}
	if err := writeFile(tw, strings.TrimPrefix(spec.Path, "/"), 0o755, binary); err != nil {
		return nil, "", fmt.Errorf("images: layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, "", fmt.Errorf("images: layer: %w", err)
	}
	var out bytes.Buffer
	// A zero gzip header (no name, no time) keeps the compressed bytes reproducible.
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if _, err := zw.Write(plain.Bytes()); err != nil {
		return nil, "", fmt.Errorf("images: layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("images: layer: %w", err)
	}
	return out.Bytes(), digest(plain.Bytes()), nil
}

func dirHeader(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(b []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:")
}
