package enroll

import "time"

// Endpoint paths.
const (
	PathCA                  = "/ca"
	PathJoin                = "/join"
	PathRenew               = "/renew"
	PathServiceAccountToken = "/serviceaccount-token"
)

// JoinRequest is POST /join's body.
type JoinRequest struct {
	// Token is "<id>.<secret>" (without the CA pin).
	Token string `json:"token"`
	// NodeName is the node to join; the CSR's CN must be "system:node:<NodeName>".
	NodeName string `json:"nodeName"`
	// CSRPEM is a PEM "CERTIFICATE REQUEST" for the node's key.
	CSRPEM string `json:"csrPEM"`
}

// RenewRequest is POST /renew's body; the node is the one of the client certificate.
type RenewRequest struct {
	// CSRPEM is a PEM "CERTIFICATE REQUEST" for the node's (new) key, CN "system:node:<node>".
	CSRPEM string `json:"csrPEM"`
}

// CertResponse answers a successful join or renewal.
type CertResponse struct {
	// CertPEM is the node certificate.
	CertPEM string `json:"certPEM"`
	// CAPEM is the cluster CA certificate.
	CAPEM string `json:"caPEM"`
	// HubURL is where edgecore dials the hub (wss://...).
	HubURL string `json:"hubURL"`
}

// ServiceAccountTokenRequest is POST /serviceaccount-token's body: a bound token for a pod of
// the requesting node (the node of the client certificate). The cloud checks the pod against
// the apiserver (Kubernetes' NodeRestriction rule) before it asks for a TokenRequest.
type ServiceAccountTokenRequest struct {
	// Namespace and PodName name the pod the token is bound to.
	Namespace string `json:"namespace"`
	PodName   string `json:"podName"`
	// PodUID must be the pod's current UID: a token for a deleted and re-created pod of the
	// same name is refused.
	PodUID string `json:"podUID"`
	// ServiceAccountName must be the pod's spec.serviceAccountName.
	ServiceAccountName string `json:"serviceAccountName"`
	// Audiences of the token; empty means the apiserver's own audiences.
	Audiences []string `json:"audiences,omitempty"`
	// ExpirationSeconds is the requested lifetime, at least MinTokenExpirationSeconds; the
	// apiserver may shorten or extend it.
	ExpirationSeconds int64 `json:"expirationSeconds"`
}

// ServiceAccountTokenResponse answers a successful token request.
type ServiceAccountTokenResponse struct {
	// Token is the signed JWT.
	Token string `json:"token"`
	// ExpirationTimestamp is when the token stops being valid (RFC 3339).
	ExpirationTimestamp time.Time `json:"expirationTimestamp"`
}

// Bounds of ServiceAccountTokenRequest.ExpirationSeconds; the minimum is the apiserver's own.
const (
	MinTokenExpirationSeconds = 600
	MaxTokenExpirationSeconds = 1 << 32
)

// ErrorResponse answers a failed request.
type ErrorResponse struct {
	// Reason is machine-readable: one of the Reason values of errors.go (TokenMalformed,
	// TokenUnknown, TokenExpired, TokenUsed, CSRInvalid, NodeNameMismatch, InvalidNodeName,
	// BadRequest, Unauthenticated, PodNotFound, NotBoundToNode, PodUIDMismatch,
	// ServiceAccountMismatch, ServiceAccountNotFound, TooManyRequests, Internal).
	Reason string `json:"reason"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}
