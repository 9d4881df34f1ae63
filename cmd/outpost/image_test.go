package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpostmesh/outpost/edgecore/imageimport"
)

// runImport runs `outpost image import args...` and returns stdout and the error.
func runImport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"image", "import"}, args...))
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func TestImageImportErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not an archive, just some words in a file\n"), 0o644)
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	idx := `{"manifests":[{"annotations":{"io.containerd.image.name":"outpost.local/a:v1"}}]}`
	tw.WriteHeader(&tar.Header{Name: "index.json", Mode: 0o644, Size: int64(len(idx)), Typeflag: tar.TypeReg})
	tw.Write([]byte(idx))
	tw.Close()
	archive := filepath.Join(dir, "a.tar")
	os.WriteFile(archive, tarBuf.Bytes(), 0o644)
	unnamed := filepath.Join(dir, "unnamed.tar")
	var ub bytes.Buffer
	tw = tar.NewWriter(&ub)
	tw.WriteHeader(&tar.Header{Name: "index.json", Mode: 0o644, Size: 16, Typeflag: tar.TypeReg})
	tw.Write([]byte(`{"manifests":[]}`))
	tw.Close()
	os.WriteFile(unnamed, ub.Bytes(), 0o644)
	// No containerd listens here: the socket file does not exist.
	noSocket := "unix://" + filepath.Join(dir, "containerd.sock")

	for _, tc := range []struct {
		name string
		args []string
		err  error  // sentinel, or nil when only the message matters
		msg  string // part of the error message
	}{
		{"no file argument", nil, nil, "accepts 1 arg"},
		{"two files", []string{archive, archive}, nil, "accepts 1 arg"},
		{"missing file", []string{filepath.Join(dir, "nope.tar"), "--address", noSocket}, imageimport.ErrNoArchive, "no such file"},
		{"not a tar", []string{text, "--address", noSocket}, imageimport.ErrNotArchive, text},
		{"no image name", []string{unnamed, "--address", noSocket}, imageimport.ErrNoImageName, unnamed},
		{"containerd not reachable", []string{archive, "--address", noSocket}, imageimport.ErrUnreachable, "containerd.sock"},
		{"bad address", []string{archive, "--address", "tcp://127.0.0.1:1"}, imageimport.ErrUnreachable, "unix://"},
		{"unknown flag", []string{archive, "--registry", "x"}, nil, "unknown flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runImport(t, tc.args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.msg)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing on failure", out)
			}
		})
	}
}
