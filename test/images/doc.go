// Package images builds the lab's container images without a registry: a static Go binary
// from this repository becomes a single-layer OCI image archive (an OCI image layout in a tar)
// that `ctr images import` (and so `outpost image import`) loads into containerd.
//
// Two images exist: PauseImage (the pod sandbox, see ./pause) and TestAppImage (a small HTTP
// server and process toolbox for tests, see ./testapp). Archives are deterministic: the same
// binary gives byte-for-byte the same archive and image digest, so they are cached by content.
package images
