package hub

import "bytes"

// logWriter sends net/http's server log to the logger. net/http reports failed TLS handshakes
// only there; those not already counted by VerifyConnection (whose errors start with "hub:")
// are counted here as tls_handshake refusals: garbage instead of TLS, TLS below 1.3, timeouts.
type logWriter struct{ h *Hub }

func (w logWriter) Write(p []byte) (int, error) {
	msg := bytes.TrimSpace(p)
	if bytes.Contains(msg, []byte("TLS handshake error")) && !bytes.Contains(msg, []byte("hub: ")) {
		w.h.metrics.refusals.WithLabelValues(reasonTLS).Inc()
	}
	w.h.opts.Logger.V(2).Info("HTTP server", "msg", string(msg))
	return len(p), nil
}
