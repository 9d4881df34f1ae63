package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

var testSpec = Spec{
	Name:       "outpost.local/unit:v1",
	Path:       "/bin/unit",
	Env:        []string{"PATH=/bin", "PORT=8080"},
	WorkingDir: "/work",
	Dirs:       []string{"/tmp", "/etc"},
}

// readTar returns a tar's regular files and the modes of every entry.
func readTar(t *testing.T, r io.Reader) (files map[string][]byte, modes map[string]int64) {
	t.Helper()
	files, modes = map[string][]byte{}, map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, modes
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v, want the fixed epoch", h.Name, h.ModTime)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = b
		}
	}
}

func blob(t *testing.T, files map[string][]byte, d descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: digest or size mismatch", d.Digest)
	}
	return b
}

// TestArchiveStructure walks the archive the way containerd's importer does.
func TestArchiveStructure(t *testing.T) {
	var buf bytes.Buffer
	img, err := WriteArchive(&buf, testSpec, []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, &buf)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", files["oci-layout"])
	}
	var idx index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, files["index.json"])
	}
	md := idx.Manifests[0]
	if md.Annotations[annotationRefName] != testSpec.Name || md.Annotations[annotationContainerdName] != testSpec.Name {
		t.Errorf("annotations = %v", md.Annotations)
	}
	if md.Digest != img.ManifestDigest {
		t.Errorf("index points at %s, WriteArchive said %s", md.Digest, img.ManifestDigest)
	}
	var man manifest
	if err := json.Unmarshal(blob(t, files, md), &man); err != nil || len(man.Layers) != 1 || man.Layers[0].MediaType != mediaTypeLayer {
		t.Fatalf("manifest: %v %+v", err, man)
	}
	if man.Config.Digest != img.ID {
		t.Errorf("config digest %s, image id %s", man.Config.Digest, img.ID)
	}
	var cfg imageConfig
	if err := json.Unmarshal(blob(t, files, man.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config; strings.Join(got.Entrypoint, " ") != "/bin/unit" || got.WorkingDir != "/work" || len(got.Env) != 2 || cfg.OS != "linux" {
		t.Errorf("config = %+v", cfg)
	}
	layer := blob(t, files, man.Layers[0])
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	sum := sha256.Sum256(plain)
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff ids %v do not match the layer", cfg.RootFS.DiffIDs)
	}
	lfiles, lmodes := readTar(t, bytes.NewReader(plain))
	if string(lfiles["bin/unit"]) != "binary" || lmodes["bin/unit"] != 0o755 {
		t.Errorf("layer binary: %q mode %o", lfiles["bin/unit"], lmodes["bin/unit"])
	}
	if lmodes["tmp/"] != 0o1777 || lmodes["etc/"] != 0o755 || lmodes["bin/"] != 0o755 {
		t.Errorf("layer dirs: %v", lmodes)
	}
}

// TestArchiveDeterministic: same input, same bytes; another binary, another digest.
func TestArchiveDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	ia, err := WriteArchive(&a, testSpec, []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	ib, _ := WriteArchive(&b, testSpec, []byte("binary"))
	ic, _ := WriteArchive(&c, testSpec, []byte("binary2"))
	if !bytes.Equal(a.Bytes(), b.Bytes()) || ia != ib {
		t.Errorf("two archives of the same input differ: %v %v", ia, ib)
	}
	if ia.ManifestDigest == ic.ManifestDigest || ia.ID == ic.ID {
		t.Errorf("different binaries gave the same digests")
	}
}

func TestArchiveBadSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		bin  []byte
	}{
		{"no tag", Spec{Name: "outpost.local/x", Path: "/x"}, []byte("b")},
		{"relative path", Spec{Name: "x:v1", Path: "x"}, []byte("b")},
		{"root path", Spec{Name: "x:v1", Path: "/"}, []byte("b")},
		{"unclean path", Spec{Name: "x:v1", Path: "/a/../x"}, []byte("b")},
		{"empty binary", Spec{Name: "x:v1", Path: "/x"}, nil},
		{"bad dir", Spec{Name: "x:v1", Path: "/x", Dirs: []string{"tmp"}}, []byte("b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := WriteArchive(io.Discard, tc.spec, tc.bin); !errors.Is(err, ErrBadSpec) {
				t.Errorf("err = %v, want ErrBadSpec", err)
			}
		})
	}
}

func TestBuildUnknown(t *testing.T) {
	if _, err := Build(t.Context(), "outpost.local/nope:v1", BuildOptions{CacheDir: t.TempDir()}); !errors.Is(err, ErrUnknownImage) {
		t.Errorf("err = %v, want ErrUnknownImage", err)
	}
}

// TestBuildPause compiles the (small) pause image twice: the second build reuses the archive.
func TestBuildPause(t *testing.T) {
	dir := t.TempDir()
	a, err := Build(t.Context(), PauseImage, BuildOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	built.mu.Lock()
	delete(built.images, dir+"\x00"+PauseImage) // force a second go build
	built.mu.Unlock()
	b, err := Build(t.Context(), PauseImage, BuildOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("rebuild changed the image: %+v vs %+v", a, b)
	}
}
