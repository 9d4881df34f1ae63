//go:build integration

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/test/images"
	"github.com/outpostmesh/outpost/test/lab"
)

// TestImageImportIntoContainerd imports an OCI archive (the lab's testapp) and a
// docker-archive into a real containerd with `outpost image import`.
func TestImageImportIntoContainerd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := lab.ForTest(t)
	h, err := r.NewHost("node")
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.StartContainerd(ctx, lab.ContainerdOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testapp, err := images.Build(ctx, images.TestAppImage, images.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const dockerName = "outpost.local/docker-archive:v1"
	for _, tc := range []struct{ path, name, id string }{
		{testapp.Path, images.TestAppImage, testapp.ID},
		{dockerArchive(t, dockerName), dockerName, ""},
	} {
		out, err := runImport(t, tc.path, "--address", c.Socket)
		if err != nil {
			t.Fatalf("import %s: %v", tc.path, err)
		}
		name, id, _ := strings.Cut(strings.TrimSpace(out), "\t")
		if name != tc.name || !strings.HasPrefix(id, "sha256:") || (tc.id != "" && id != tc.id) {
			t.Errorf("import printed %q, want %s<TAB>%s", out, tc.name, tc.id)
		}
		st, err := c.ImageService.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: tc.name}})
		if err != nil || st.GetImage().GetId() != id {
			t.Errorf("CRI ImageStatus(%s) = %v, %v; want id %s", tc.name, st.GetImage(), err, id)
		}
	}
}

// dockerArchive writes a minimal `docker save` archive: manifest.json, a config, one
// uncompressed layer.
func dockerArchive(t *testing.T, name string) string {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	lw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	lw.Write([]byte("hello"))
	lw.Close()
	sum := sha256.Sum256(layer.Bytes())
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	cfg, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/hello.txt"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	csum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	layerName := hex.EncodeToString(sum[:]) + "/layer.tar"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{name}, "Layers": []string{layerName}}})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", man}, {cfgName, cfg}, {layerName, layer.Bytes()}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "docker.tar")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
