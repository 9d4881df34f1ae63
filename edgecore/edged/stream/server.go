package stream

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"
)

const (
	defaultPollInterval   = 250 * time.Millisecond
	defaultStatusInterval = 2 * time.Second
)

// Server serves the kubelet API subset; it is an http.Handler.
type Server struct {
	opts    Options
	log     klog.Logger
	mux     *http.ServeMux
	metrics *metrics
	// proxy is the transport to the runtime's streaming server.
	proxy http.RoundTripper
}

// New returns a Server; Options.Resolver is required.
func New(o Options) (*Server, error) {
	if o.Resolver == nil {
		return nil, errors.New("stream: Options.Resolver is required")
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = defaultStatusInterval
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	}
	s := &Server{opts: o, log: o.Logger, mux: http.NewServeMux(), metrics: newMetrics(o.Registerer),
		proxy: &http.Transport{
			DialContext: o.DialContext,
			// Each exec/attach/port-forward URL is used once: keep nothing open.
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: 30 * time.Second,
			Proxy:                 nil, // the streaming server is local to the node
		}}
	s.route("GET /healthz", "healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.route("GET /containerLogs/{namespace}/{pod}/{container}", "logs", s.serveLogs)
	// The kubelet also accepts the pod UID before the container name; the
	// apiserver does not send it, other clients may.
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		s.route("GET "+p, "exec", s.serveExec)
		s.route("POST "+p, "exec", s.serveExec)
	}
	for _, p := range []string{"/attach/{namespace}/{pod}/{container}", "/attach/{namespace}/{pod}/{uid}/{container}"} {
		s.route("GET "+p, "attach", s.serveAttach)
		s.route("POST "+p, "attach", s.serveAttach)
	}
	for _, p := range []string{"/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"} {
		s.route("GET "+p, "portforward", s.servePortForward)
		s.route("POST "+p, "portforward", s.servePortForward)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) route(pattern, name string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		s.metrics.observe(name, rec.code)
	})
}

// httpError answers err with the status its sentinel calls for.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotSupported):
		code = http.StatusNotImplemented
	}
	if code == http.StatusInternalServerError {
		s.log.Error(err, "Kubelet API request failed", "path", r.URL.Path)
	} else {
		s.log.V(3).Info("Kubelet API request refused", "path", r.URL.Path, "code", code, "err", err)
	}
	http.Error(w, err.Error(), code)
}

// statusRecorder remembers the status code for the metrics and keeps the
// Flusher and Hijacker of the wrapped writer (follow and upgrades need them).
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("stream: %T cannot hijack", r.ResponseWriter)
	}
	r.code, r.wroteHeader = http.StatusSwitchingProtocols, true
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
