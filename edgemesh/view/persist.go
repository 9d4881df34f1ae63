package view

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// snapshotVersion changes when the file format does; an unknown version is ignored, not guessed.
const snapshotVersion = "outpost.dev/v1alpha1/ServiceViewSnapshot"

// Snapshot is the view as stored on disk.
type Snapshot struct {
	Version  string     `json:"version"`
	Services []*Service `json:"services"`
	Nodes    []Node     `json:"nodes"`
}

// Snapshot returns the store's current content.
func (s *Store) Snapshot() Snapshot {
	return Snapshot{Version: snapshotVersion, Services: s.Services(), Nodes: s.Nodes()}
}

// Restore loads a snapshot into the store (on top of what it holds).
func (s *Store) Restore(snap Snapshot) {
	for _, n := range snap.Nodes {
		s.UpsertNode(n)
	}
	for _, svc := range snap.Services {
		if svc != nil && svc.Name != "" {
			s.Upsert(svc)
		}
	}
}

// SaveSnapshot writes snap to path atomically: a temporary file in the same directory, synced,
// then renamed over the old one, so a crash leaves the old or the new file, never half of one.
func SaveSnapshot(path string, snap Snapshot) error {
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("view: encode snapshot: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("view: save snapshot: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("view: save snapshot: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("view: save snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("view: save snapshot: %w", err)
	}
	return nil
}

// ErrNoSnapshot means there is no snapshot file yet.
var ErrNoSnapshot = errors.New("view: no snapshot")

// LoadSnapshot reads a snapshot written by SaveSnapshot.
func LoadSnapshot(path string) (Snapshot, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Snapshot{}, ErrNoSnapshot
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("view: load snapshot: %w", err)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return Snapshot{}, fmt.Errorf("view: load snapshot %s: %w", path, err)
	}
	if snap.Version != snapshotVersion {
		return Snapshot{}, fmt.Errorf("view: load snapshot %s: unknown version %q", path, snap.Version)
	}
	return snap, nil
}
