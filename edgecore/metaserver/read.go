package metaserver

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveResource answers a resource request: get, list or watch; writes are
// refused with 405.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, req request) string {
	gvr := req.gv.WithResource(req.resource)
	res, ok := s.resources.lookup(r.Context(), s, gvr)
	if !ok || (req.namespace != "" && !res.Namespaced) || (req.name != "" && req.namespace == "" && res.Namespaced) {
		s.writeStatus(w, r, apierrors.NewNotFound(gvr.GroupResource(), req.name))
		return "other"
	}
	if r.Method != http.MethodGet {
		s.writeStatus(w, r, apierrors.NewMethodNotSupported(gvr.GroupResource(), verbOf(r.Method)+
			" (the edge metaserver is read-only: changes go to the cloud)"))
		return "write"
	}
	var opts metav1.ListOptions
	if err := paramCodec.DecodeParameters(r.URL.Query(), schema.GroupVersion{Version: "v1"}, &opts); err != nil {
		s.writeStatus(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid list options: %v", err)))
		return "list"
	}
	watching := opts.Watch || req.watchPath
	switch {
	case req.subresource != "" && (req.subresource != "status" || watching):
		s.writeStatus(w, r, apierrors.NewNotFound(gvr.GroupResource(), req.name+"/"+req.subresource))
		return "other"
	case req.name != "" && !watching:
		s.get(w, r, res, req)
		return "get"
	}
	fieldSel := opts.FieldSelector
	if req.name != "" {
		fieldSel = joinSelectors(fieldSel, "metadata.name="+req.name)
	}
	f, err := newFilter(res, opts.LabelSelector, fieldSel)
	if err != nil {
		s.writeStatus(w, r, err)
		return "list"
	}
	if watching {
		s.watch(w, r, res, req, &opts, f)
		return "watch"
	}
	s.list(w, r, res, req, &opts, f)
	return "list"
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, res Resource, req request) {
	o, err := s.store.Get(r.Context(), res.Resource, req.namespace, req.name)
	if errors.Is(err, metastore.ErrNotFound) {
		err = apierrors.NewNotFound(res.Resource.GroupResource(), req.name)
	}
	if err != nil {
		s.writeStatus(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(o.Data)
}

// list writes a List object. Pagination (limit/continue) is not supported:
// the whole list comes in one response with no continue token, which
// clients must accept.
func (s *Server) list(w http.ResponseWriter, r *http.Request, res Resource, req request, opts *metav1.ListOptions, f *filter) {
	if _, err := parseRV(opts.ResourceVersion); err != nil {
		s.writeStatus(w, r, err)
		return
	}
	items, rev, err := s.store.List(r.Context(), res.Resource, req.namespace, f.labels)
	if err != nil {
		s.writeStatus(w, r, err)
		return
	}
	if opts.ResourceVersionMatch == metav1.ResourceVersionMatchExact && opts.ResourceVersion != strconv.FormatInt(rev, 10) {
		s.writeStatus(w, r, apierrors.NewResourceExpired(fmt.Sprintf(
			"too old resource version: %s (%d): only the latest state is kept at the edge", opts.ResourceVersion, rev)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 32<<10)
	fmt.Fprintf(bw, `{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":"%d"},"items":[`,
		res.Kind+"List", apiVersion(res.Resource.GroupVersion()), rev)
	n := 0
	for _, o := range items {
		if f.fields != nil {
			ok, err := f.match(o.Data)
			if err != nil || !ok {
				continue
			}
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.Write(o.Data)
		n++
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// parseRV parses a resourceVersion parameter: "" and "0" are 0 ("any").
func parseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q: not a non-negative integer", rv))
	}
	return n, nil
}

func joinSelectors(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func verbOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return method
}
