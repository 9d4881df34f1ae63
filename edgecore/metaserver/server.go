package metaserver

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
)

// Server is the read-only Kubernetes API over a meta store; it is an
// http.Handler. Every request runs on the goroutine net/http gives it,
// watches included: the server starts no goroutine of its own.
type Server struct {
	opts      Options
	log       klog.Logger
	store     *metastore.Store
	resources *resources
	metrics   *metrics
}

// New returns a server over opts.Store.
func New(opts Options) (*Server, error) {
	opts = opts.Default()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("metaserver: new: %w", err)
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.WithName("metaserver"),
		store:     opts.Store,
		resources: newResources(opts.Resources),
	}
	s.metrics = newMetrics(opts.Registerer)
	return s, nil
}

// responseTimeout bounds the write of a response (of one event for watches).
const responseTimeout = time.Minute

// ServeHTTP routes a request: health, version, discovery, then resources.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	// A client that stops reading loses its request instead of holding it;
	// watches move the deadline forward at each event.
	http.NewResponseController(rec).SetWriteDeadline(time.Now().Add(responseTimeout))
	verb := s.serve(rec, r)
	s.metrics.observe(verb, rec.code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) string {
	parts := splitPath(r.URL.Path)
	if len(parts) == 0 {
		s.writeStatus(w, r, apierrors.NewNotFound(schemaGR(""), r.URL.Path))
		return "other"
	}
	switch parts[0] {
	case "healthz", "livez", "readyz":
		s.health(w, r, parts[0])
		return "health"
	case "version":
		writeJSON(w, http.StatusOK, s.opts.Version)
		return "discovery"
	case "api", "apis":
	default:
		s.writeStatus(w, r, apierrors.NewNotFound(schemaGR(""), r.URL.Path))
		return "other"
	}
	apis := parts[0] == "apis"
	req, ok := parsePath(apis, parts[1:])
	if !ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.writeStatus(w, r, apierrors.NewMethodNotSupported(schemaGR(""), r.Method))
			return "other"
		}
		s.discovery(w, r, apis, parts[1:])
		return "discovery"
	}
	return s.serveResource(w, r, req)
}

// health answers /healthz, /livez and /readyz: ready means the store answers.
func (s *Server) health(w http.ResponseWriter, r *http.Request, which string) {
	if which == "readyz" {
		if _, err := s.store.Compacted(r.Context()); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}

// statusRecorder remembers the response code for metrics and passes Flush on.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func isTrue(v string) bool {
	return v == "1" || strings.EqualFold(v, "true")
}
