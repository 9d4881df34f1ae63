// Package pki creates and reads the X.509 material Outpost runs on: a cluster CA, serving and
// client certificates, node identities (CN "system:node:NAME", O "system:nodes", the names
// Kubernetes' Node authorizer uses) and the CA hash that join tokens pin.
//
// Keys are ECDSA P-256: small, fast to generate (tests create many) and accepted by every
// component we talk to (kube-apiserver, etcd, quic-go, gorilla/websocket's TLS).
package pki
