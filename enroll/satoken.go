package enroll

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"
)

// RequestServiceAccountToken asks the cloud for a bound service account token for a pod of this
// node. tlsCfg must trust the cluster CA and present the node's certificate (a rotating
// GetClientCertificate is fine: every call dials anew). A refusal is one of ErrPodNotFound,
// ErrNotBoundToNode, ErrPodUIDMismatch, ErrServiceAccountMismatch, ErrServiceAccountNotFound,
// ErrUnauthenticated, ErrTooManyRequests or ErrBadRequest; anything else (no answer, ErrInternal)
// means the cloud could not be asked.
func RequestServiceAccountToken(ctx context.Context, endpoint string, tlsCfg *tls.Config, req ServiceAccountTokenRequest, timeout time.Duration) (*ServiceAccountTokenResponse, error) {
	base := BaseURL(endpoint)
	c := httpClient(tlsCfg, timeout)
	defer c.CloseIdleConnections()
	var resp ServiceAccountTokenResponse
	if err := Post(ctx, c, base+PathServiceAccountToken, req, &resp); err != nil {
		return nil, fmt.Errorf("enroll: service account token for pod %s/%s at %s: %w", req.Namespace, req.PodName, base, err)
	}
	if resp.Token == "" || resp.ExpirationTimestamp.IsZero() {
		return nil, fmt.Errorf("enroll: service account token for pod %s/%s at %s: empty token or expiration", req.Namespace, req.PodName, base)
	}
	return &resp, nil
}
