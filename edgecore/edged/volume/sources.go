package volume

import (
	"fmt"
	"io/fs"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// defaultMode is the API's default file mode of configMap, secret and downward API volumes.
const defaultMode = 0o644

func modeOf(item *int32, def *int32) fs.FileMode {
	switch {
	case item != nil:
		return fs.FileMode(*item) & fs.ModePerm
	case def != nil:
		return fs.FileMode(*def) & fs.ModePerm
	}
	return defaultMode
}

// keyPayload turns a ConfigMap's or Secret's data into files: every key, or only items.
// A missing item key fails unless optional.
func keyPayload(kind, ns, name string, data map[string][]byte, items []corev1.KeyToPath, def *int32, optional bool, out map[string]file) error {
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{data: v, mode: modeOf(nil, def)}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%w: %s %s/%s has no key %q", ErrMissingObject, kind, ns, name, it.Key)
		}
		out[it.Path] = file{data: v, mode: modeOf(it.Mode, def)}
	}
	return nil
}

// configMapPayload adds a ConfigMap's files to out; a missing optional ConfigMap adds none.
func (m *Manager) configMapPayload(ns string, src *corev1.ConfigMapVolumeSource, def *int32, out map[string]file) error {
	optional := src.Optional != nil && *src.Optional
	cm, err := m.o.Objects.ConfigMap(ns, src.Name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: configmap %q not found in namespace %q", ErrMissingObject, src.Name, ns)
	}
	if err != nil {
		return fmt.Errorf("volume: configmap %s/%s: %w", ns, src.Name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	if def == nil {
		def = src.DefaultMode
	}
	return keyPayload("configmap", ns, src.Name, data, src.Items, def, optional, out)
}

// secretPayload adds a Secret's files to out; a missing optional Secret adds none.
func (m *Manager) secretPayload(ns, name string, items []corev1.KeyToPath, optionalP *bool, def *int32, out map[string]file) error {
	optional := optionalP != nil && *optionalP
	s, err := m.o.Objects.Secret(ns, name)
	if apierrors.IsNotFound(err) {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: secret %q not found in namespace %q", ErrMissingObject, name, ns)
	}
	if err != nil {
		return fmt.Errorf("volume: secret %s/%s: %w", ns, name, err)
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return keyPayload("secret", ns, name, data, items, def, optional, out)
}

// downwardPayload adds downward API files to out.
func downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def *int32, ips PodIPs, out map[string]file) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = FieldValue(pod, it.FieldRef.FieldPath, ips)
		case it.ResourceFieldRef != nil:
			v, err = ResourceValue(pod, "", it.ResourceFieldRef)
		default:
			err = fmt.Errorf("%w: downwardAPI item %q has neither fieldRef nor resourceFieldRef", ErrInvalidVolume, it.Path)
		}
		if err != nil {
			return err
		}
		out[it.Path] = file{data: []byte(v), mode: modeOf(it.Mode, def)}
	}
	return nil
}
