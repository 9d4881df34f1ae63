package metaserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// filter selects objects by label and field selectors. Objects are matched
// on their JSON; only what the selectors need is decoded.
type filter struct {
	labels labels.Selector // nil: everything
	fields fields.Selector // nil: everything
	// needs lists the field labels the field selector uses beyond
	// metadata.name and metadata.namespace (decoding the whole object).
	needs []string
}

// newFilter parses the selectors of a request for resource res; bad
// selectors and unsupported field labels are 400 Bad Request.
func newFilter(res Resource, labelSel, fieldSel string) (*filter, error) {
	f := &filter{}
	if labelSel != "" {
		sel, err := labels.Parse(labelSel)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		if !sel.Empty() {
			f.labels = sel
		}
	}
	if fieldSel != "" {
		sel, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", fieldSel, err))
		}
		for _, req := range sel.Requirements() {
			switch {
			case req.Field == "metadata.name", req.Field == "metadata.namespace":
			case slices.Contains(res.FieldLabels, req.Field):
				if !slices.Contains(f.needs, req.Field) {
					f.needs = append(f.needs, req.Field)
				}
			default:
				return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		if !sel.Empty() {
			f.fields = sel
		}
	}
	return f, nil
}

// empty reports whether the filter lets everything through.
func (f *filter) empty() bool { return f.labels == nil && f.fields == nil }

// objectView is the part of an object selectors look at.
type objectView struct {
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
}

// match reports whether the object JSON data is selected.
func (f *filter) match(data []byte) (bool, error) {
	if f.empty() {
		return true, nil
	}
	var v objectView
	if err := json.Unmarshal(data, &v); err != nil {
		return false, err
	}
	if f.labels != nil && !f.labels.Matches(labels.Set(v.Metadata.Labels)) {
		return false, nil
	}
	if f.fields == nil {
		return true, nil
	}
	set := fields.Set{"metadata.name": v.Metadata.Name, "metadata.namespace": v.Metadata.Namespace}
	if len(f.needs) > 0 {
		top := rawObject{}
		if err := json.Unmarshal(data, &top.fields); err != nil {
			return false, err
		}
		for _, field := range f.needs {
			path := field
			if alias, ok := fieldAliases[field]; ok {
				path = alias
			}
			v := top.lookup(path)
			if v == "" {
				v = fieldDefaults[field]
			}
			set[field] = v
		}
	}
	return f.fields.Matches(set), nil
}

// fieldDefaults are the values of absent boolean fields, which Kubernetes
// field selectors see as "false".
var fieldDefaults = map[string]string{"spec.unschedulable": "false", "spec.hostNetwork": "false"}

// rawObject is a JSON object decoded one level at a time, so that reading
// spec.nodeName does not build the whole pod.
type rawObject struct {
	fields map[string]json.RawMessage
	subs   map[string]*rawObject
}

// lookup returns the value at a dotted path as a field selector sees it:
// strings as they are, booleans and numbers as printed, absent as "".
func (o *rawObject) lookup(path string) string {
	head, rest, nested := strings.Cut(path, ".")
	raw, ok := o.fields[head]
	if !ok {
		return ""
	}
	if nested {
		sub, ok := o.subs[head]
		if !ok {
			sub = &rawObject{}
			if json.Unmarshal(raw, &sub.fields) != nil {
				return ""
			}
			if o.subs == nil {
				o.subs = map[string]*rawObject{}
			}
			o.subs[head] = sub
		}
		return sub.lookup(rest)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return v.String()
	}
	return ""
}
