package certs

// Endpoint paths.
const (
	PathCA    = "/ca"
	PathJoin  = "/join"
	PathRenew = "/renew"
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

// ErrorResponse answers a failed request.
type ErrorResponse struct {
	// Reason is machine-readable: TokenMalformed, TokenUnknown, TokenExpired, TokenUsed,
	// CSRInvalid, NodeNameMismatch, InvalidNodeName, BadRequest, Unauthenticated, Internal.
	Reason string `json:"reason"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}
