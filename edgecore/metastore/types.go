package metastore

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Op is what a [Change] does.
type Op int

const (
	// Upsert creates or replaces an object.
	Upsert Op = iota + 1
	// Delete removes an object.
	Delete
)

// String returns "upsert" or "delete".
func (o Op) String() string {
	switch o {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// Change is one object change sent by the cloud.
type Change struct {
	// Op is Upsert or Delete.
	Op Op
	// Resource is the object's group/version/resource (e.g. core v1 pods).
	Resource schema.GroupVersionResource
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	// Name of the object. Required.
	Name string
	// CloudRV is the object's resourceVersion in the cloud. An upsert whose
	// CloudRV is not newer than the stored one is skipped; a delete whose
	// CloudRV is older than the stored one is skipped. Empty means the
	// object's own metadata.resourceVersion, and if that is empty too, the
	// change always applies.
	CloudRV string
	// Object is the object JSON. Required for Upsert; for Delete it is the
	// object's final state (optional: the stored state is used otherwise).
	Object []byte
}

// Key identifies a stored object.
type Key struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
}

// String returns "group/version/resource/namespace/name".
func (k Key) String() string {
	return resourceKey(k.Resource) + "/" + k.Namespace + "/" + k.Name
}

// Object is one stored object.
type Object struct {
	Key
	// Kind is the object's kind.
	Kind string
	// CloudRV is the cloud's resourceVersion of the stored state.
	CloudRV string
	// Revision is the local revision of the object's last change; it is also
	// the object JSON's metadata.resourceVersion.
	Revision int64
	// Data is the object JSON. Callers must not modify it.
	Data []byte
}

// EventType is the kind of change of an [Event], spelled as in Kubernetes watches.
type EventType string

// Event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one entry of the change log.
type Event struct {
	Key
	// Revision is the local revision this change created.
	Revision int64
	// Type says whether the object was added, modified or deleted.
	Type EventType
	// Object is the object JSON after the change; for Deleted, its final
	// state. Its metadata.resourceVersion is Revision.
	Object []byte
	// Prev is the object JSON before the change; nil for Added.
	Prev []byte
}

// ResourceInfo describes a resource that has objects in the store.
type ResourceInfo struct {
	Resource schema.GroupVersionResource
	// Kind of the resource's objects.
	Kind string
	// Namespaced is true if its objects have a namespace.
	Namespaced bool
	// Count is the number of stored objects.
	Count int
}

// resourceKey is the text form of a resource in the database: "group/version/resource"
// ("/v1/pods" for the core group).
func resourceKey(r schema.GroupVersionResource) string {
	return r.Group + "/" + r.Version + "/" + r.Resource
}

func parseResourceKey(s string) schema.GroupVersionResource {
	var parts [3]string
	for i := 0; i < 2; i++ {
		j := indexByte(s, '/')
		if j < 0 {
			break
		}
		parts[i], s = s[:j], s[j+1:]
	}
	parts[2] = s
	return schema.GroupVersionResource{Group: parts[0], Version: parts[1], Resource: parts[2]}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
