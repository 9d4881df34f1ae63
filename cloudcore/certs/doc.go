// Package certs is cloudcore's side of joining edge nodes: the cluster CA (kept in a Secret),
// single-use bootstrap tokens, and the HTTPS join endpoint that turns a token and a certificate
// request into a node identity, renews it, and mints ServiceAccount tokens for the node's pods.
// The wire types and the edge's client are in package enroll.
//
// Trust runs both ways. The edge pins the cloud: a join token carries the CA's hash
// ("sha256:<hex of the CA's SubjectPublicKeyInfo>", kubeadm's form), the edge fetches the CA
// certificate with GET /ca, checks its hash and from then on trusts only that CA. The cloud
// authenticates the edge: POST /join needs a valid, unexpired, unused token; POST /renew needs
// the node's current client certificate, and so does POST /serviceaccount-token.
//
// Endpoints (JSON bodies, see the enroll package):
//
//	GET  /ca     the CA certificate (PEM); unauthenticated, the caller checks the pin
//	POST /join   {token, nodeName, csrPEM} -> {certPEM, caPEM, hubURL}; registers the Node
//	POST /renew  {csrPEM} with the node's client certificate -> a new certificate, same node
//	POST /serviceaccount-token  {namespace, podName, podUID, serviceAccountName, audiences,
//	             expirationSeconds} with the node's client certificate -> {token, expirationTimestamp},
//	             only for a pod bound to that node (NodeRestriction), bound to the pod
//
// Failures answer an ErrorResponse with a Reason (TokenMalformed, TokenUnknown, TokenExpired,
// TokenUsed, CSRInvalid, NodeNameMismatch, NotBoundToNode, ...) that the client maps back to
// the sentinel errors of errors.go.
package certs
