package imageimport

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Where image archives keep their names.
const (
	ociIndex          = "index.json"
	dockerManifest    = "manifest.json"
	annotationCtrName = "io.containerd.image.name"
	annotationRefName = "org.opencontainers.image.ref.name"
	// maxIndexSize bounds what is read of index.json or manifest.json.
	maxIndexSize = 4 << 20
)

// ArchiveNames returns the image names an archive carries: from an OCI layout's index.json
// (the io.containerd.image.name annotation, else a full reference in
// org.opencontainers.image.ref.name) or a docker-archive's manifest.json (RepoTags).
// A gzip-compressed tar is read too, as ctr does.
func ArchiveNames(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoArchive, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNoArchive, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoArchive, err)
	}
	defer f.Close()
	return readNames(f, path)
}

func readNames(r io.Reader, path string) ([]string, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotArchive, path, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	tr := tar.NewReader(r)
	var sawIndex, sawManifest bool
	var names []string
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if entries == 0 {
				return nil, fmt.Errorf("%w: %s is empty or not a tar", ErrNotArchive, path)
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotArchive, path, err)
		}
		switch strings.TrimPrefix(hdr.Name, "./") {
		case ociIndex:
			sawIndex = true
			n, err := ociNames(tr)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: index.json: %w", ErrNotArchive, path, err)
			}
			names = append(names, n...)
		case dockerManifest:
			sawManifest = true
			n, err := dockerNames(tr)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: manifest.json: %w", ErrNotArchive, path, err)
			}
			names = append(names, n...)
		}
	}
	if !sawIndex && !sawManifest {
		return nil, fmt.Errorf("%w: %s has neither index.json (OCI) nor manifest.json (docker)", ErrNotArchive, path)
	}
	names = dedup(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s (set the %s annotation, or RepoTags)", ErrNoImageName, path, annotationCtrName)
	}
	return names, nil
}

func ociNames(r io.Reader) ([]string, error) {
	var idx struct {
		Manifests []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.NewDecoder(io.LimitReader(r, maxIndexSize)).Decode(&idx); err != nil {
		return nil, err
	}
	var names []string
	for _, m := range idx.Manifests {
		if n := m.Annotations[annotationCtrName]; n != "" {
			names = append(names, n)
			continue
		}
		// A bare tag ("v1") is not a name: ctr would need --base-name to make one.
		if n := m.Annotations[annotationRefName]; strings.Contains(n, "/") || strings.Contains(n, ":") {
			names = append(names, n)
		}
	}
	return names, nil
}

func dockerNames(r io.Reader) ([]string, error) {
	var man []struct {
		RepoTags []string `json:"RepoTags"`
	}
	if err := json.NewDecoder(io.LimitReader(r, maxIndexSize)).Decode(&man); err != nil {
		return nil, err
	}
	var names []string
	for _, m := range man {
		names = append(names, m.RepoTags...)
	}
	return names, nil
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
