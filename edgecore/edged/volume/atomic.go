package volume

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dataLink is the symlink that names the current contents of an atomically written volume.
const dataLink = "..data"

// file is one file of a payload.
type file struct {
	data []byte
	mode fs.FileMode
}

// writeAtomic makes dir hold exactly payload (relative path → file), the kubelet's way:
// the files go into a fresh hidden directory, `..data` is switched to it with one rename (an
// atomic step a reader in the container cannot see half done), and each top-level name is a
// symlink through `..data`. Unchanged contents are left alone; it reports whether it wrote.
func writeAtomic(dir string, payload map[string]file) (bool, error) {
	for p := range payload {
		if err := checkRelPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("volume: %w", err)
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && sameContents(filepath.Join(dir, old), payload) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, "..ts-")
	if err != nil {
		return false, fmt.Errorf("volume: %w", err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, fmt.Errorf("volume: %w", err)
	}
	for p, f := range payload {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			os.RemoveAll(ts)
			return false, fmt.Errorf("volume: %w", err)
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			os.RemoveAll(ts)
			return false, fmt.Errorf("volume: %w", err)
		}
		if err := os.Chmod(full, f.mode); err != nil { // the umask must not narrow the mode
			os.RemoveAll(ts)
			return false, fmt.Errorf("volume: %w", err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		os.RemoveAll(ts)
		return false, fmt.Errorf("volume: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		os.RemoveAll(ts)
		return false, fmt.Errorf("volume: publish %s: %w", dir, err)
	}
	if err := syncTopLinks(dir, payload); err != nil {
		return true, err
	}
	if old != "" && old != filepath.Base(ts) {
		os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

// syncTopLinks makes each top-level name of payload a symlink into ..data and removes names
// that left the payload.
func syncTopLinks(dir string, payload map[string]file) error {
	want := map[string]bool{}
	for p := range payload {
		want[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range want {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, name) {
			continue
		}
		os.RemoveAll(link)
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return fmt.Errorf("volume: %w", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !want[e.Name()] {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// sameContents reports whether dir holds exactly payload, with the same modes.
func sameContents(dir string, payload map[string]file) bool {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(dir, path)
		f, ok := payload[filepath.ToSlash(rel)]
		if !ok {
			return fs.ErrNotExist
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != f.mode.Perm() {
			return fs.ErrInvalid
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(b, f.data) {
			return fs.ErrInvalid
		}
		return nil
	})
	return err == nil && n == len(payload)
}

// checkRelPath refuses paths that would leave the volume or hide behind the ..data names.
func checkRelPath(p string) error {
	clean := filepath.Clean(p)
	switch {
	case p == "" || filepath.IsAbs(p):
		return fmt.Errorf("%w: path %q must be relative", ErrInvalidVolume, p)
	case clean != p || strings.HasPrefix(p, ".."):
		return fmt.Errorf("%w: path %q must be clean and not start with '..'", ErrInvalidVolume, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%w: path %q contains '..'", ErrInvalidVolume, p)
		}
	}
	return nil
}
