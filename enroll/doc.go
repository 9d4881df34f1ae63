// Package enroll is the wire contract between an edge node and cloudcore's join endpoint, and
// the edge's client of it. Both sides import it (DESIGN.md: shared wire types live in one small
// package): cloudcore/certs serves the endpoints, `outpost join` and edgecore call them. It
// holds no server code and imports neither cloudcore nor edgecore.
//
// Trust runs both ways. The edge pins the cloud: a join token carries the CA's hash
// ("sha256:<hex of the CA's SubjectPublicKeyInfo>", kubeadm's form), the edge fetches the CA
// certificate with GET /ca, checks its hash and from then on trusts only that CA. The cloud
// authenticates the edge: POST /join needs a valid, unexpired, unused bootstrap token; POST
// /renew and POST /serviceaccount-token need the node's current client certificate.
//
// Endpoints (HTTPS, JSON bodies):
//
//	GET  /ca                     the CA certificate (PEM); unauthenticated, the caller checks the pin
//	POST /join                   JoinRequest -> CertResponse; registers the Node
//	POST /renew                  RenewRequest + node client certificate -> CertResponse, same node
//	POST /serviceaccount-token   ServiceAccountTokenRequest + node client certificate ->
//	                             ServiceAccountTokenResponse, only for a pod bound to that node
//
// Failures answer an ErrorResponse whose Reason (TokenMalformed, TokenUnknown, ..., PodNotFound,
// NotBoundToNode, ...) the client maps back to the sentinel errors of errors.go, so callers on
// both sides decide with errors.Is.
package enroll
