// Package certs keeps an edge node's identity fresh. A Rotator holds the node's key pair, hands
// it to every TLS client through tls.Config.GetClientCertificate (the hub client, the token
// client: each picks up a new certificate on its next handshake, nothing restarts), and renews
// it with cloudcore's POST /renew between 70% and 90% of its lifetime (jittered, so that nodes
// joined together do not renew together). Renewal uses a fresh key; the answer is checked
// (chains to the pinned CA, names this node, matches the new key) before it is written to disk
// and used.
//
// On disk, a renewal commits by renaming the certificate: the new key is first written beside
// the old one as "<keyFile>.next", then the certificate replaces certFile, then the key is
// renamed into place. A crash at any point leaves either the old pair or a new certificate
// with its key in ".next", which New completes. The window between the two renames, where a
// reader of the files sees a new certificate with the old key, lasts microseconds.
//
// An expired certificate cannot be renewed (the cloud authenticates the renewal with it): the
// Rotator logs that the node must join again (`outpost join --force`) and keeps checking,
// picking up the re-joined credentials from disk.
package certs
