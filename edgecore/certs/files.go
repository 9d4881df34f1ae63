package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/outpostmesh/outpost/pki"
)

// nextSuffix names the new key while a renewal is being committed (see the package doc).
const nextSuffix = ".next"

// writeFileAtomic replaces path with data: a temporary file in the same directory, written,
// chmod'ed and fsynced, then renamed over path, then the directory fsynced so the rename
// survives a power cut.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(mode), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("certs: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("certs: sync %s: %w", dir, err)
	}
	return nil
}

// writePair stores a renewed pair. The certificate's rename is the commit point: before it the
// old pair is intact (plus a stray key.next), after it the new certificate's key is either in
// place or in key.next, where completePending finds it.
func writePair(certFile, keyFile string, certPEM, keyPEM []byte) error {
	next := keyFile + nextSuffix
	if err := writeFileAtomic(next, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		os.Remove(next)
		return err
	}
	if err := os.Rename(next, keyFile); err != nil {
		return fmt.Errorf("certs: commit %s: %w", keyFile, err)
	}
	return syncDir(filepath.Dir(keyFile))
}

// completePending finishes a writePair interrupted between its renames: a key.next that
// matches the certificate on disk goes into place; one that does not is a leftover from a
// renewal that never committed and is removed.
func completePending(certFile, keyFile string) error {
	next := keyFile + nextSuffix
	keyPEM, err := os.ReadFile(next)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if kp, err := pki.ParseKeyPair(certPEM, keyPEM); err == nil && keyMatches(kp) == nil {
		if err := os.Rename(next, keyFile); err != nil {
			return fmt.Errorf("certs: complete interrupted renewal: %w", err)
		}
		return syncDir(filepath.Dir(keyFile))
	}
	return os.Remove(next)
}

// loadPair reads the pair from disk.
func loadPair(certFile, keyFile string) (*pki.KeyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidCertificate, certFile, err)
	}
	if err := keyMatches(kp); err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	return kp, nil
}
