package metaserver

import (
	"context"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource describes a served resource.
type Resource struct {
	// Resource is the group, version and plural name.
	Resource schema.GroupVersionResource
	// Kind of its objects; the list kind is Kind + "List".
	Kind string
	// Namespaced is true for namespaced resources.
	Namespaced bool
	// ShortNames shown in discovery (kubectl uses them).
	ShortNames []string
	// FieldLabels are the fields, beyond metadata.name and
	// metadata.namespace, a fieldSelector may use.
	FieldLabels []string
}

func core(resource, kind string, namespaced bool, short []string, fields ...string) Resource {
	return Resource{Resource: schema.GroupVersionResource{Version: "v1", Resource: resource}, Kind: kind,
		Namespaced: namespaced, ShortNames: short, FieldLabels: fields}
}

// builtin are the resources an edge node holds, served even when empty so
// that informers on them sync. The field labels are Kubernetes' own.
var builtin = []Resource{
	core("pods", "Pod", true, []string{"po"}, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
		"spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
	core("services", "Service", true, []string{"svc"}),
	core("endpoints", "Endpoints", true, []string{"ep"}),
	core("configmaps", "ConfigMap", true, []string{"cm"}),
	core("secrets", "Secret", true, nil, "type"),
	core("nodes", "Node", false, []string{"no"}, "spec.unschedulable"),
	core("namespaces", "Namespace", false, []string{"ns"}, "status.phase"),
	core("serviceaccounts", "ServiceAccount", true, []string{"sa"}),
	core("events", "Event", true, []string{"ev"}, "involvedObject.kind", "involvedObject.namespace",
		"involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
		"involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
	{Resource: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
		Kind: "EndpointSlice", Namespaced: true, FieldLabels: []string{"addressType"}},
	{Resource: schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"},
		Kind: "Lease", Namespaced: true},
}

// fieldAliases maps field labels to the object path they select.
var fieldAliases = map[string]string{"source": "source.component"}

// resources is the set of served resources: the configured ones plus those
// with objects in the store, looked up again when the store's revision moved.
type resources struct {
	static map[schema.GroupVersionResource]Resource

	mu      sync.Mutex
	rev     int64 // store revision of dynamic; -1: never loaded
	dynamic map[schema.GroupVersionResource]Resource
}

func newResources(extra []Resource) *resources {
	rs := &resources{static: map[schema.GroupVersionResource]Resource{}, rev: -1}
	for _, r := range append(slices.Clone(builtin), extra...) {
		rs.static[r.Resource] = r
	}
	return rs
}

// all returns the served resources, static ones first for equal keys.
func (rs *resources) all(ctx context.Context, s *Server) map[schema.GroupVersionResource]Resource {
	rev := s.store.Revision()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.rev != rev {
		infos, err := s.store.Resources(ctx)
		if err != nil {
			s.log.V(2).Info("Cannot list stored resources", "err", err)
			return rs.static
		}
		rs.dynamic = map[schema.GroupVersionResource]Resource{}
		for _, ri := range infos {
			if _, ok := rs.static[ri.Resource]; !ok {
				rs.dynamic[ri.Resource] = Resource{Resource: ri.Resource, Kind: ri.Kind, Namespaced: ri.Namespaced}
			}
		}
		rs.rev = rev
	}
	if len(rs.dynamic) == 0 {
		return rs.static
	}
	out := make(map[schema.GroupVersionResource]Resource, len(rs.static)+len(rs.dynamic))
	for k, v := range rs.dynamic {
		out[k] = v
	}
	for k, v := range rs.static {
		out[k] = v
	}
	return out
}

// lookup finds a served resource.
func (rs *resources) lookup(ctx context.Context, s *Server, gvr schema.GroupVersionResource) (Resource, bool) {
	if r, ok := rs.static[gvr]; ok {
		return r, true
	}
	r, ok := rs.all(ctx, s)[gvr]
	return r, ok
}

// apiVersion is the apiVersion field of a group version.
func apiVersion(gv schema.GroupVersion) string {
	return gv.String()
}

// gvrString is "resource.group/version" ("pods/v1" for the core group), for logs.
func gvrString(r schema.GroupVersionResource) string {
	return r.GroupResource().String() + "/" + r.Version
}
