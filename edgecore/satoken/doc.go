// Package satoken gives edge pods their bound ServiceAccount tokens. Only the cloud can mint
// one (a TokenRequest, which cloudcore makes for a pod of this node after checking the pod is
// bound here); the Manager asks for it through enroll.RequestServiceAccountToken, authenticated
// by the node certificate, and keeps it in memory and on disk, so that a node that restarts
// while the cloud is unreachable still has valid tokens for its pods.
//
// Refresh follows the kubelet: a token is renewed once 80% of its lifetime has passed or it is
// older than 24 hours, whichever comes first. When the cloud cannot be reached the cached
// token is served until it expires; after that the pod gets an error, as it would from a
// kubelet that cannot reach its apiserver.
package satoken
