package metaserver

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/outpostmesh/outpost/edgecore/metastore"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusOf turns an error into the metav1.Status a client gets; errors that
// are not API errors are internal errors (500).
func statusOf(err error) *metav1.Status {
	var se apierrors.APIStatus
	switch {
	case errors.As(err, &se):
	case errors.Is(err, metastore.ErrClosed):
		se = apierrors.NewServiceUnavailable("the edge meta store is closed")
	default:
		se = apierrors.NewInternalError(err)
	}
	st := se.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	return &st
}

// writeStatus answers a request with an error Status.
func (s *Server) writeStatus(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	if st.Code >= 500 {
		s.log.Error(err, "Request failed", "method", r.Method, "path", r.URL.Path)
	} else {
		s.log.V(4).Info("Request refused", "method", r.Method, "path", r.URL.Path, "code", st.Code, "reason", st.Reason)
	}
	writeJSON(w, int(st.Code), st)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}
