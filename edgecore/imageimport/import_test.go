package imageimport

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeTar writes a tar of the given files (optionally gzip'd) and returns its path.
func writeTar(t *testing.T, files map[string]string, gz bool) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	data := buf.Bytes()
	if gz {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const ociIndexNamed = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1,"annotations":{"io.containerd.image.name":"outpost.local/a:v1","org.opencontainers.image.ref.name":"outpost.local/a:v1"}}]}`

func TestArchiveNames(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	notTar := filepath.Join(dir, "text")
	os.WriteFile(notTar, []byte("hello, this is not a tar archive at all\n"), 0o644)
	for _, tc := range []struct {
		name string
		path string
		want []string
		err  error
	}{
		{"oci", writeTar(t, map[string]string{"oci-layout": "{}", "index.json": ociIndexNamed}, false), []string{"outpost.local/a:v1"}, nil},
		{"oci gzip", writeTar(t, map[string]string{"index.json": ociIndexNamed}, true), []string{"outpost.local/a:v1"}, nil},
		{"oci ref name only", writeTar(t, map[string]string{"index.json": `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"example.com/b:v2"}}]}`}, false), []string{"example.com/b:v2"}, nil},
		{"oci bare tag", writeTar(t, map[string]string{"index.json": `{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}`}, false), nil, ErrNoImageName},
		{"docker", writeTar(t, map[string]string{"manifest.json": `[{"Config":"c.json","RepoTags":["busybox:1.36","busybox:latest"]}]`}, false), []string{"busybox:1.36", "busybox:latest"}, nil},
		{"docker untagged", writeTar(t, map[string]string{"manifest.json": `[{"Config":"c.json"}]`}, false), nil, ErrNoImageName},
		{"bad index json", writeTar(t, map[string]string{"index.json": `{"manifests":`}, false), nil, ErrNotArchive},
		{"tar of other files", writeTar(t, map[string]string{"README": "x"}, false), nil, ErrNotArchive},
		{"not a tar", notTar, nil, ErrNotArchive},
		{"empty file", empty, nil, ErrNotArchive},
		{"missing", filepath.Join(dir, "nope.tar"), nil, ErrNoArchive},
		{"directory", dir, nil, ErrNoArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ArchiveNames(tc.path)
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Errorf("ArchiveNames = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// fakeCRI answers Version unless down, and lists the images in known.
type fakeCRI struct {
	down   bool
	known  map[string]bool
	closed bool
}

func (f *fakeCRI) Version(context.Context) (string, error) {
	if f.down {
		return "", errors.New("connection refused")
	}
	return "containerd v1.6.20", nil
}

func (f *fakeCRI) ImageStatus(_ context.Context, name string) (*runtimeapi.Image, error) {
	if !f.known[name] {
		return nil, nil
	}
	return &runtimeapi.Image{Id: "sha256:cfg", RepoTags: []string{name}, Size: 42}, nil
}

func (f *fakeCRI) Close() error { f.closed = true; return nil }

// fakeCtr returns an executable stand-in for ctr (LookPath must find it).
func fakeCtr(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ctr")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImport(t *testing.T) {
	archive := writeTar(t, map[string]string{"index.json": ociIndexNamed}, false)
	ctr := fakeCtr(t)
	type result struct {
		imgs    []Image
		err     error
		ctrArgs []string
	}
	run := func(cri *fakeCRI, opts Options, ctrErr error, onCtr func()) result {
		var r result
		opts.dial = func(context.Context, string) (criClient, error) { return cri, nil }
		opts.runCtr = func(_ context.Context, _ string, args ...string) ([]byte, error) {
			r.ctrArgs = args
			if onCtr != nil {
				onCtr()
			}
			return []byte("ctr output"), ctrErr
		}
		r.imgs, r.err = Import(context.Background(), archive, opts)
		return r
	}

	t.Run("ok", func(t *testing.T) {
		cri := &fakeCRI{known: map[string]bool{}}
		r := run(cri, Options{Address: "unix:///x/containerd.sock", Ctr: ctr}, nil, func() { cri.known["outpost.local/a:v1"] = true })
		if r.err != nil || len(r.imgs) != 1 || r.imgs[0].ID != "sha256:cfg" || r.imgs[0].Name != "outpost.local/a:v1" {
			t.Fatalf("Import = %+v, %v", r.imgs, r.err)
		}
		want := []string{"--address", "/x/containerd.sock", "--namespace", "k8s.io", "images", "import", "--all-platforms", archive}
		if !slices.Equal(r.ctrArgs, want) {
			t.Errorf("ctr args = %v, want %v", r.ctrArgs, want)
		}
		if !cri.closed {
			t.Errorf("CRI connection not closed")
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		r := run(&fakeCRI{down: true}, Options{Ctr: ctr}, nil, nil)
		if !errors.Is(r.err, ErrUnreachable) || r.ctrArgs != nil {
			t.Errorf("err = %v, ctr ran: %v", r.err, r.ctrArgs != nil)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		r := run(&fakeCRI{}, Options{Address: "tcp://127.0.0.1:1", Ctr: ctr}, nil, nil)
		if !errors.Is(r.err, ErrUnreachable) {
			t.Errorf("err = %v, want ErrUnreachable", r.err)
		}
	})
	t.Run("no ctr", func(t *testing.T) {
		r := run(&fakeCRI{}, Options{Ctr: filepath.Join(t.TempDir(), "ctr")}, nil, nil)
		if !errors.Is(r.err, ErrNoCtr) {
			t.Errorf("err = %v, want ErrNoCtr", r.err)
		}
	})
	t.Run("ctr fails", func(t *testing.T) {
		r := run(&fakeCRI{}, Options{Ctr: ctr}, errors.New("exit status 1"), nil)
		if !errors.Is(r.err, ErrCtrFailed) {
			t.Errorf("err = %v, want ErrCtrFailed", r.err)
		}
	})
	t.Run("not listed", func(t *testing.T) {
		r := run(&fakeCRI{known: map[string]bool{}}, Options{Ctr: ctr, Timeout: 200 * time.Millisecond}, nil, nil)
		if !errors.Is(r.err, ErrNotListed) {
			t.Errorf("err = %v, want ErrNotListed", r.err)
		}
	})
}

func TestSocketPath(t *testing.T) {
	for in, want := range map[string]string{"unix:///run/c.sock": "/run/c.sock", "/run/c.sock": "/run/c.sock", "": "", "tcp://x:1": "", "unix://rel": ""} {
		got, err := SocketPath(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("SocketPath(%q) = %q, %v", in, got, err)
		}
	}
}
