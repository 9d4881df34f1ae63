package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/pki"
)

// Client defaults.
const (
	// DefaultClientTimeout bounds each request of Join, FetchCA, Renew and
	// RequestServiceAccountToken.
	DefaultClientTimeout = 30 * time.Second
	// MaxResponseBytes bounds a response body read by the client.
	MaxResponseBytes = 64 << 10
)

// JoinOptions says how to join a node.
type JoinOptions struct {
	// Endpoint is the join endpoint: "host:port" or "https://host:port". Required.
	Endpoint string
	// Token is "<id>.<secret>". Required.
	Token string
	// CAHash pins the cluster CA: "sha256:<hex>". Required.
	CAHash string
	// NodeName is the node to join. Required.
	NodeName string
	// Timeout bounds each request. Default DefaultClientTimeout.
	Timeout time.Duration
}

// Credentials are a joined node's identity.
type Credentials struct {
	// CertPEM and KeyPEM are the node certificate and its private key.
	CertPEM, KeyPEM []byte
	// CAPEM is the cluster CA certificate (the one the pin matched).
	CAPEM []byte
	// HubURL is where edgecore dials the hub.
	HubURL string
}

// Join fetches the CA and checks it against the pin, then sends a fresh key's CSR with the
// token over TLS that trusts only the pinned CA. Nothing is written anywhere: the caller stores
// the credentials.
func Join(ctx context.Context, o JoinOptions) (*Credentials, error) {
	if _, err := ParseToken(o.Token); err != nil {
		return nil, err
	}
	if err := CheckPin(o.CAHash); err != nil {
		return nil, err
	}
	if err := CheckNodeName(o.NodeName); err != nil {
		return nil, err
	}
	base := BaseURL(o.Endpoint)
	ca, caPEM, err := FetchCA(ctx, base, o.CAHash, o.Timeout)
	if err != nil {
		return nil, err
	}
	csrPEM, _, keyPEM, err := pki.NewCSR(pki.NodeCommonName(o.NodeName), []string{pki.NodesGroup})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := httpClient(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, o.Timeout)
	defer c.CloseIdleConnections()
	var resp CertResponse
	req := JoinRequest{Token: o.Token, NodeName: o.NodeName, CSRPEM: string(csrPEM)}
	if err := Post(ctx, c, base+PathJoin, req, &resp); err != nil {
		return nil, fmt.Errorf("enroll: join %s as %s: %w", base, o.NodeName, err)
	}
	return &Credentials{CertPEM: []byte(resp.CertPEM), KeyPEM: keyPEM, CAPEM: caPEM, HubURL: resp.HubURL}, nil
}

// FetchCA gets GET /ca without authenticating the server (it cannot yet: it has no CA) and
// accepts the certificate only if its hash equals pin; otherwise ErrCAPinMismatch.
func FetchCA(ctx context.Context, endpoint, pin string, timeout time.Duration) (*x509.Certificate, []byte, error) {
	base := BaseURL(endpoint)
	// InsecureSkipVerify is safe here: the answer is trusted only by its hash.
	c := httpClient(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, timeout) //nolint:gosec
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+PathCA, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: fetch CA: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: fetch CA from %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("enroll: fetch CA from %s: status %s: %v", base, resp.Status, err)
	}
	cert, err := pki.ParseCert(b)
	if err != nil {
		return nil, nil, fmt.Errorf("enroll: fetch CA from %s: %w", base, err)
	}
	if got := pki.Hash(cert); got != pin {
		return nil, nil, fmt.Errorf("%w: %s serves %s, the token pins %s", ErrCAPinMismatch, base, got, pin)
	}
	return cert, b, nil
}

// Renew asks for a new certificate for current's node, authenticating with current over TLS
// that trusts roots; the new key is fresh. The node name is taken from current. The caller
// verifies the answer before using it.
func Renew(ctx context.Context, endpoint string, roots *x509.CertPool, current *pki.KeyPair, timeout time.Duration) (*Credentials, error) {
	node, err := pki.NodeName(current.Cert)
	if err != nil {
		return nil, err
	}
	csrPEM, _, keyPEM, err := pki.NewCSR(pki.NodeCommonName(node), []string{pki.NodesGroup})
	if err != nil {
		return nil, err
	}
	base := BaseURL(endpoint)
	c := httpClient(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{current.TLSCertificate()}, MinVersion: tls.VersionTLS12}, timeout)
	defer c.CloseIdleConnections()
	var resp CertResponse
	if err := Post(ctx, c, base+PathRenew, RenewRequest{CSRPEM: string(csrPEM)}, &resp); err != nil {
		return nil, fmt.Errorf("enroll: renew %s at %s: %w", node, base, err)
	}
	return &Credentials{CertPEM: []byte(resp.CertPEM), KeyPEM: keyPEM, CAPEM: []byte(resp.CAPEM), HubURL: resp.HubURL}, nil
}

// Post sends body as JSON to url and decodes a 200 answer into into; any other answer becomes
// the sentinel of its ErrorResponse's Reason (wrapped with the server's message), or an error
// naming the status.
func Post(ctx context.Context, c *http.Client, url string, body, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(rb, &e) == nil && e.Reason != "" {
			if s := ErrorOf(e.Reason); s != nil {
				return fmt.Errorf("%w (server: %s)", s, e.Message)
			}
			return fmt.Errorf("%s: %s", e.Reason, e.Message)
		}
		return fmt.Errorf("status %s", resp.Status)
	}
	if err := json.Unmarshal(rb, into); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// HTTPClient returns a client with cfg and timeout (0: DefaultClientTimeout). Each call makes
// a new transport: callers close its idle connections when done, so that a rotated client
// certificate is presented on the next request's handshake.
func HTTPClient(cfg *tls.Config, timeout time.Duration) *http.Client {
	return httpClient(cfg, timeout)
}

func httpClient(cfg *tls.Config, timeout time.Duration) *http.Client {
	if timeout == 0 {
		timeout = DefaultClientTimeout
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// BaseURL turns "host:port" into "https://host:port" and drops a trailing slash.
func BaseURL(endpoint string) string {
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	return strings.TrimSuffix(endpoint, "/")
}
