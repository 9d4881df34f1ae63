package metastore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// doc is an object JSON split at its top level and at metadata, so that
// resourceVersion, kind and apiVersion can be rewritten without decoding the
// rest of the object.
type doc struct {
	top  map[string]json.RawMessage
	meta map[string]json.RawMessage

	kind    string
	ownRV   string // metadata.resourceVersion as received
	labels  []byte // metadata.labels JSON, nil if none
	present bool   // false for a delete that carries no object
}

// parseDoc validates an object JSON against the change it came with and
// fills in what the cloud may have left out: apiVersion from the resource,
// kind from kindFor, metadata.name and metadata.namespace from the change.
func parseDoc(data []byte, r schema.GroupVersionResource, ns, name string, kindFor func(schema.GroupVersionResource) string) (*doc, error) {
	d := &doc{present: true}
	if err := json.Unmarshal(data, &d.top); err != nil {
		return nil, fmt.Errorf("%w: object is not a JSON object: %v", ErrInvalidChange, err)
	}
	if d.top == nil {
		return nil, fmt.Errorf("%w: object is null", ErrInvalidChange)
	}
	if raw, ok := d.top["metadata"]; ok {
		if err := json.Unmarshal(raw, &d.meta); err != nil {
			return nil, fmt.Errorf("%w: metadata is not a JSON object: %v", ErrInvalidChange, err)
		}
	}
	if d.meta == nil {
		d.meta = map[string]json.RawMessage{}
	}
	for field, want := range map[string]string{"name": name, "namespace": ns} {
		got, err := stringField(d.meta, field)
		if err != nil {
			return nil, err
		}
		switch {
		case got == "" && want != "":
			d.meta[field] = mustJSON(want)
		case got != want:
			return nil, fmt.Errorf("%w: metadata.%s %q differs from the change's %q", ErrInvalidChange, field, got, want)
		}
	}
	var err error
	if d.ownRV, err = stringField(d.meta, "resourceVersion"); err != nil {
		return nil, err
	}
	if raw, ok := d.meta["labels"]; ok && !bytes.Equal(raw, []byte("null")) {
		var l map[string]string
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%w: metadata.labels: %v", ErrInvalidChange, err)
		}
		d.labels = raw
	}
	apiVersion := r.Version
	if r.Group != "" {
		apiVersion = r.Group + "/" + r.Version
	}
	got, err := stringField(d.top, "apiVersion")
	if err != nil {
		return nil, err
	}
	if got == "" {
		d.top["apiVersion"] = mustJSON(apiVersion)
	}
	if d.kind, err = stringField(d.top, "kind"); err != nil {
		return nil, err
	}
	if d.kind == "" {
		if d.kind = kindFor(r); d.kind == "" {
			return nil, fmt.Errorf("%w: object has no kind and resource %s is not known", ErrInvalidChange, resourceKey(r))
		}
		d.top["kind"] = mustJSON(d.kind)
	}
	return d, nil
}

// encode returns the object JSON with metadata.resourceVersion set to rev.
func (d *doc) encode(rev int64) ([]byte, error) {
	d.meta["resourceVersion"] = mustJSON(strconv.FormatInt(rev, 10))
	meta, err := json.Marshal(d.meta)
	if err != nil {
		return nil, err
	}
	d.top["metadata"] = meta
	return json.Marshal(d.top)
}

func stringField(m map[string]json.RawMessage, field string) (string, error) {
	raw, ok := m[field]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrInvalidChange, field)
	}
	return s, nil
}

func mustJSON(s string) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(errors.New("metastore: marshal string: " + err.Error()))
	}
	return b
}
