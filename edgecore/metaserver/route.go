package metaserver

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// request is a parsed resource path, as in the kube-apiserver's RequestInfo:
//
//	/api/v1/[watch/][namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
//	/apis/GROUP/VERSION/[watch/][namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]]
//
// /api/v1/namespaces/NAME[/status|/finalize] is the namespace NAME itself.
type request struct {
	gv          schema.GroupVersion
	resource    string
	namespace   string
	name        string
	subresource string
	watchPath   bool // the deprecated /watch/ prefix
}

// parsePath parses the path segments after /api or /apis. ok is false if the
// path is not a resource path (discovery paths included).
func parsePath(apis bool, parts []string) (req request, ok bool) {
	if apis {
		if len(parts) < 3 {
			return req, false
		}
		req.gv = schema.GroupVersion{Group: parts[0], Version: parts[1]}
		parts = parts[2:]
	} else {
		if len(parts) < 2 {
			return req, false
		}
		req.gv = schema.GroupVersion{Version: parts[0]}
		parts = parts[1:]
	}
	if parts[0] == "watch" {
		req.watchPath = true
		parts = parts[1:]
		if len(parts) == 0 {
			return req, false
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		req.namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		} else {
			// The namespace object itself (cluster-scoped).
			req.namespace = ""
		}
	}
	if len(parts) > 3 {
		return req, false
	}
	req.resource = parts[0]
	if len(parts) > 1 {
		req.name = parts[1]
	}
	if len(parts) > 2 {
		req.subresource = parts[2]
	}
	return req, req.resource != ""
}

// splitPath splits a URL path into its non-empty segments.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}
