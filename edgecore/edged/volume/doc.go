// Package volume prepares the volumes of edged's pods on the node: emptyDir (tmpfs for medium
// Memory), hostPath with type checks, configMap, secret, downwardAPI and projected volumes
// (service account tokens from a TokenSource); secrets and tokens live on a tmpfs per volume,
// never on disk. ConfigMap-like contents are written the kubelet's way — files under a
// timestamped directory, published by renaming a `..data` symlink — so a running container
// sees an update appear all at once.
package volume
