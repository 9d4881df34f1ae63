package enroll

import (
	"errors"
	"net/http"
)

// Sentinel errors. The server reports each with an HTTP status and a Reason; the client maps
// the Reason back, so callers on both sides can use errors.Is.
var (
	// ErrTokenMalformed is a token that is not "<id>.<secret>" (6 and 16 characters a-z0-9),
	// or a join token whose CA pin is not "sha256:<64 hex>".
	ErrTokenMalformed = errors.New("enroll: malformed token")
	// ErrTokenUnknown is a token whose id does not exist or whose secret does not match.
	// The two are not told apart, so that the answer reveals nothing about valid ids.
	ErrTokenUnknown = errors.New("enroll: unknown token")
	// ErrTokenExpired is a token past its expiration.
	ErrTokenExpired = errors.New("enroll: token expired")
	// ErrTokenUsed is a token that already joined a node: tokens are single-use.
	ErrTokenUsed = errors.New("enroll: token already used")
	// ErrCSRInvalid is a certificate request that does not parse or is not correctly signed.
	ErrCSRInvalid = errors.New("enroll: invalid certificate request")
	// ErrNodeNameMismatch is a certificate request for another node than the one asking.
	ErrNodeNameMismatch = errors.New("enroll: certificate request names another node")
	// ErrInvalidNodeName is a node name that is not a DNS-1123 subdomain.
	ErrInvalidNodeName = errors.New("enroll: invalid node name")
	// ErrBadRequest is a request body that is not the expected JSON or has invalid fields.
	ErrBadRequest = errors.New("enroll: bad request")
	// ErrUnauthenticated is a request without a valid node certificate of the cluster CA
	// where one is needed (renewal, service account tokens). An expired node certificate is
	// one: such a node must join again.
	ErrUnauthenticated = errors.New("enroll: no valid node certificate")
	// ErrPodNotFound is a token request for a pod the apiserver does not have.
	ErrPodNotFound = errors.New("enroll: pod not found")
	// ErrNotBoundToNode is a token request for a pod that is not bound to the requesting node.
	ErrNotBoundToNode = errors.New("enroll: pod is not bound to the requesting node")
	// ErrPodUIDMismatch is a token request whose pod UID is not the pod's current UID.
	ErrPodUIDMismatch = errors.New("enroll: pod UID does not match")
	// ErrServiceAccountMismatch is a token request for another service account than the pod's.
	ErrServiceAccountMismatch = errors.New("enroll: service account is not the pod's")
	// ErrServiceAccountNotFound is a token request for a service account that does not exist.
	ErrServiceAccountNotFound = errors.New("enroll: service account not found")
	// ErrTooManyRequests is a node over its token request rate.
	ErrTooManyRequests = errors.New("enroll: too many requests")
	// ErrCAPinMismatch is a CA certificate whose hash differs from the token's pin (client only).
	ErrCAPinMismatch = errors.New("enroll: CA certificate does not match the pinned hash")
	// ErrInternal is a server-side failure (apiserver, signing).
	ErrInternal = errors.New("enroll: internal error")
)

// reasons maps each sentinel the server reports to its Reason and HTTP status.
var reasons = []struct {
	err    error
	reason string
	status int
}{
	{ErrTokenMalformed, "TokenMalformed", http.StatusUnauthorized},
	{ErrTokenUnknown, "TokenUnknown", http.StatusUnauthorized},
	{ErrTokenExpired, "TokenExpired", http.StatusUnauthorized},
	{ErrTokenUsed, "TokenUsed", http.StatusForbidden},
	{ErrCSRInvalid, "CSRInvalid", http.StatusBadRequest},
	{ErrNodeNameMismatch, "NodeNameMismatch", http.StatusForbidden},
	{ErrInvalidNodeName, "InvalidNodeName", http.StatusBadRequest},
	{ErrBadRequest, "BadRequest", http.StatusBadRequest},
	{ErrUnauthenticated, "Unauthenticated", http.StatusUnauthorized},
	{ErrPodNotFound, "PodNotFound", http.StatusNotFound},
	{ErrNotBoundToNode, "NotBoundToNode", http.StatusForbidden},
	{ErrPodUIDMismatch, "PodUIDMismatch", http.StatusForbidden},
	{ErrServiceAccountMismatch, "ServiceAccountMismatch", http.StatusForbidden},
	{ErrServiceAccountNotFound, "ServiceAccountNotFound", http.StatusNotFound},
	{ErrTooManyRequests, "TooManyRequests", http.StatusTooManyRequests},
	{ErrInternal, "Internal", http.StatusInternalServerError},
}

// ReasonOf returns the Reason and HTTP status the server answers for err (Internal when no
// sentinel matches).
func ReasonOf(err error) (string, int) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason, r.status
		}
	}
	return "Internal", http.StatusInternalServerError
}

// ErrorOf returns the sentinel of a Reason, or nil for an unknown one.
func ErrorOf(reason string) error {
	for _, r := range reasons {
		if r.reason == reason {
			return r.err
		}
	}
	return nil
}
