package hubclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/gorilla/websocket"

	"github.com/outpostmesh/outpost/hubproto"
	"github.com/outpostmesh/outpost/pki"
)

// maxMessage bounds one websocket message; yamux frames are far smaller.
const maxMessage = 16 << 20

// dial opens the websocket to the hub and checks the subprotocol.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{
		NetDialContext:   c.opts.NetDialContext,
		TLSClientConfig:  c.opts.TLSConfig.Clone(),
		HandshakeTimeout: c.opts.HandshakeTimeout,
		Subprotocols:     []string{hubproto.Subprotocol},
	}
	ws, resp, err := d.DialContext(ctx, c.opts.HubURL, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w %s: %w (status %s)", errDial, c.opts.HubURL, err, resp.Status)
		}
		return nil, fmt.Errorf("%w %s: %w", errDial, c.opts.HubURL, err)
	}
	if ws.Subprotocol() != hubproto.Subprotocol {
		ws.Close()
		return nil, fmt.Errorf("%w %s: %w: got %q", errDial, c.opts.HubURL, ErrSubprotocol, ws.Subprotocol())
	}
	ws.SetReadLimit(maxMessage)
	return ws, nil
}

// LoadTLSConfig builds Options.TLSConfig from PEM files: the cluster CA (the only root trusted)
// and the node certificate and key, re-read at every handshake so that a rotated certificate is
// used from the next reconnect on.
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("hubclient: read CA: %w", err)
	}
	ca, err := pki.ParseCert(caPEM)
	if err != nil {
		return nil, fmt.Errorf("hubclient: CA %s: %w", caFile, err)
	}
	load := func() (*tls.Certificate, error) {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("hubclient: node certificate: %w", err)
		}
		return &kp, nil
	}
	if _, err := load(); err != nil { // fail early on a bad pair
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return load() }
	return cfg, nil
}
