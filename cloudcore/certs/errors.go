package certs

import (
	"errors"
	"net/http"
)

// Sentinel errors. The server reports each with an HTTP status and a Reason; the client
// (Join, Renew) maps the Reason back, so callers on both sides can use errors.Is.
var (
	// ErrTokenMalformed is a token that is not "<id>.<secret>" (6 and 16 characters a-z0-9),
	// or a join token whose CA pin is not "sha256:<64 hex>".
	ErrTokenMalformed = errors.New("certs: malformed token")
	// ErrTokenUnknown is a token whose id does not exist or whose secret does not match.
	// The two are not told apart, so that the answer reveals nothing about valid ids.
	ErrTokenUnknown = errors.New("certs: unknown token")
	// ErrTokenExpired is a token past its expiration.
	ErrTokenExpired = errors.New("certs: token expired")
	// ErrTokenUsed is a token that already joined a node: tokens are single-use.
	ErrTokenUsed = errors.New("certs: token already used")
	// ErrCSRInvalid is a certificate request that does not parse or is not correctly signed.
	ErrCSRInvalid = errors.New("certs: invalid certificate request")
	// ErrNodeNameMismatch is a certificate request for another node than the one asking.
	ErrNodeNameMismatch = errors.New("certs: certificate request names another node")
	// ErrInvalidNodeName is a node name that is not a DNS-1123 subdomain.
	ErrInvalidNodeName = errors.New("certs: invalid node name")
	// ErrBadRequest is a request body that is not the expected JSON.
	ErrBadRequest = errors.New("certs: bad request")
	// ErrUnauthenticated is a renewal without a valid node certificate of the cluster CA.
	ErrUnauthenticated = errors.New("certs: no valid node certificate")
	// ErrCAPinMismatch is a CA certificate whose hash differs from the token's pin.
	ErrCAPinMismatch = errors.New("certs: CA certificate does not match the pinned hash")
	// ErrInvalidOptions reports options that cannot work.
	ErrInvalidOptions = errors.New("certs: invalid options")
	// ErrInternal is a server-side failure (apiserver, signing).
	ErrInternal = errors.New("certs: internal error")
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
	{ErrInternal, "Internal", http.StatusInternalServerError},
}

// reasonOf returns the Reason and status for err (Internal when no sentinel matches).
func reasonOf(err error) (string, int) {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason, r.status
		}
	}
	return "Internal", http.StatusInternalServerError
}

// errorOf returns the sentinel for a Reason, or nil.
func errorOf(reason string) error {
	for _, r := range reasons {
		if r.reason == reason {
			return r.err
		}
	}
	return nil
}
