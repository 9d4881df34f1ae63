package metaserver

import (
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
		want request
	}{
		{"/api/v1/pods", true, request{resource: "pods"}},
		{"/api/v1/namespaces/a/pods", true, request{resource: "pods", namespace: "a"}},
		{"/api/v1/namespaces/a/pods/p", true, request{resource: "pods", namespace: "a", name: "p"}},
		{"/api/v1/namespaces/a/pods/p/status", true, request{resource: "pods", namespace: "a", name: "p", subresource: "status"}},
		{"/api/v1/namespaces", true, request{resource: "namespaces"}},
		{"/api/v1/namespaces/a", true, request{resource: "namespaces", name: "a"}},
		{"/api/v1/namespaces/a/status", true, request{resource: "namespaces", name: "a", subresource: "status"}},
		{"/api/v1/nodes/n", true, request{resource: "nodes", name: "n"}},
		{"/api/v1/watch/namespaces/a/pods", true, request{resource: "pods", namespace: "a", watchPath: true}},
		{"/apis/discovery.k8s.io/v1/namespaces/a/endpointslices", true, request{resource: "endpointslices", namespace: "a"}},
		{"/api/v1/namespaces/a/pods/p/status/x", false, request{}},
		{"/api", false, request{}},
		{"/api/v1", false, request{}},
		{"/apis/g/v1", false, request{}},
		{"/api/v1/watch", false, request{}},
	} {
		parts := splitPath(tc.path)
		req, ok := parsePath(parts[0] == "apis", parts[1:])
		req.gv = req.gv.WithKind("").GroupVersion()
		if ok != tc.ok || (ok && (req.resource != tc.want.resource || req.namespace != tc.want.namespace ||
			req.name != tc.want.name || req.subresource != tc.want.subresource || req.watchPath != tc.want.watchPath)) {
			t.Errorf("parsePath(%s) = %+v, %v; want %+v, %v", tc.path, req, ok, tc.want, tc.ok)
		}
	}
}
