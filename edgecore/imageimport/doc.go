// Package imageimport loads an image archive (an OCI image layout tar, or a docker-archive
// from `docker save`) into a node's containerd, for nodes without a registry: it reads the
// image names the archive carries, runs containerd's own `ctr images import` into the CRI
// namespace, and checks through the CRI ImageService that the runtime now lists every name.
// `outpost image import` and the test lab's containerd both use it.
package imageimport
