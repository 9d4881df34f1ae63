package hubclient

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/outpostmesh/outpost/edgecore/metastore"
	"github.com/outpostmesh/outpost/hubproto"
)

// parseResource reads hubproto's "group/version/resource" ("/v1/pods" for the core group).
func parseResource(s string) (schema.GroupVersionResource, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return schema.GroupVersionResource{}, fmt.Errorf("resource %q is not group/version/resource", s)
	}
	return schema.GroupVersionResource{Group: parts[0], Version: parts[1], Resource: parts[2]}, nil
}

func formatResource(r schema.GroupVersionResource) string {
	return r.Group + "/" + r.Version + "/" + r.Resource
}

// toStoreChanges converts a sync batch; any unreadable change fails the whole batch.
func toStoreChanges(in []hubproto.Change) ([]metastore.Change, error) {
	out := make([]metastore.Change, len(in))
	for i, c := range in {
		r, err := parseResource(c.Resource)
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		var op metastore.Op
		switch c.Op {
		case hubproto.OpUpsert:
			op = metastore.Upsert
		case hubproto.OpDelete:
			op = metastore.Delete
		default:
			return nil, fmt.Errorf("change %d: unknown op %q", i, c.Op)
		}
		out[i] = metastore.Change{Op: op, Resource: r, Namespace: c.Namespace, Name: c.Name, CloudRV: c.ResourceVersion, Object: c.Object}
	}
	return out, nil
}

// inventory converts the store's versions to hello's inventory, sorted for stable output.
func inventory(v map[metastore.Key]string) []hubproto.Held {
	out := make([]hubproto.Held, 0, len(v))
	for k, rv := range v {
		out = append(out, hubproto.Held{
			Ref:             hubproto.Ref{Resource: formatResource(k.Resource), Namespace: k.Namespace, Name: k.Name},
			ResourceVersion: rv,
		})
	}
	slices.SortFunc(out, func(a, b hubproto.Held) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}
