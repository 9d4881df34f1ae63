package metaserver

import (
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// verbs of every served resource: this API is read-only.
var verbs = metav1.Verbs{"get", "list", "watch"}

// discovery answers the legacy (unaggregated) discovery documents: /api,
// /api/v1, /apis, /apis/GROUP and /apis/GROUP/VERSION. client-go asks for
// the aggregated format first and falls back to these when it gets plain JSON.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request, apis bool, parts []string) {
	all := s.resources.all(r.Context(), s)
	groups := map[string][]string{} // group -> versions
	for gvr := range all {
		if !slices.Contains(groups[gvr.Group], gvr.Version) {
			groups[gvr.Group] = append(groups[gvr.Group], gvr.Version)
		}
	}
	notFound := func() { s.writeStatus(w, r, apierrors.NewNotFound(schemaGR(""), r.URL.Path)) }
	switch {
	case !apis && len(parts) == 0:
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: sorted(groups[""]),
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
	case !apis && len(parts) == 1:
		s.resourceList(w, r, all, schema.GroupVersion{Version: parts[0]})
	case apis && len(parts) == 0:
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range sorted(keys(groups)) {
			if g != "" {
				list.Groups = append(list.Groups, apiGroup(g, groups[g]))
			}
		}
		writeJSON(w, http.StatusOK, list)
	case apis && len(parts) == 1 && parts[0] != "" && len(groups[parts[0]]) > 0:
		g := apiGroup(parts[0], groups[parts[0]])
		g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		writeJSON(w, http.StatusOK, &g)
	case apis && len(parts) == 2:
		s.resourceList(w, r, all, schema.GroupVersion{Group: parts[0], Version: parts[1]})
	default:
		notFound()
	}
}

func (s *Server) resourceList(w http.ResponseWriter, r *http.Request, all map[schema.GroupVersionResource]Resource, gv schema.GroupVersion) {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.String(),
	}
	for gvr, res := range all {
		if gvr.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name:         gvr.Resource,
			SingularName: strings.ToLower(res.Kind),
			Namespaced:   res.Namespaced,
			Kind:         res.Kind,
			Verbs:        verbs,
			ShortNames:   res.ShortNames,
		})
	}
	if len(list.APIResources) == 0 {
		s.writeStatus(w, r, apierrors.NewNotFound(schemaGR(""), r.URL.Path))
		return
	}
	slices.SortFunc(list.APIResources, func(a, b metav1.APIResource) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, list)
}

func apiGroup(name string, versions []string) metav1.APIGroup {
	g := metav1.APIGroup{Name: name}
	for _, v := range sorted(versions) {
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + v, Version: v})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// schemaGR is a core group resource, for error messages.
func schemaGR(resource string) schema.GroupResource {
	return schema.GroupResource{Resource: resource}
}
