package imageimport

import "errors"

// Sentinel errors; Import wraps them with the detail.
var (
	// ErrNoArchive: the file does not exist or is not a regular file.
	ErrNoArchive = errors.New("imageimport: no archive")
	// ErrNotArchive: the file is not a tar (plain or gzip) holding an OCI layout or a docker-archive.
	ErrNotArchive = errors.New("imageimport: not an image archive")
	// ErrNoImageName: the archive holds images but names none of them.
	ErrNoImageName = errors.New("imageimport: archive names no image")
	// ErrNoCtr: containerd's ctr is not installed.
	ErrNoCtr = errors.New("imageimport: ctr not found (it ships with the containerd package)")
	// ErrUnreachable: containerd's CRI does not answer at the address.
	ErrUnreachable = errors.New("imageimport: containerd not reachable")
	// ErrCtrFailed: ctr images import failed.
	ErrCtrFailed = errors.New("imageimport: ctr images import failed")
	// ErrNotListed: the import ran but CRI does not list an image of the archive.
	ErrNotListed = errors.New("imageimport: image not listed by CRI after import")
)
