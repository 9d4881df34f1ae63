package edged

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/outpostmesh/outpost/edgecore/edged/volume"
)

// errMissingEnvObject is a non-optional ConfigMap/Secret (or key) an env var needs.
var errMissingEnvObject = volume.ErrMissingObject

// containerEnv resolves envFrom then env (later wins, as in the kubelet), expanding $(VAR)
// references to earlier variables.
func (e *Edged) containerEnv(pod *corev1.Pod, c *corev1.Container, ips volume.PodIPs) ([]*runtimeapi.KeyValue, map[string]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, src := range c.EnvFrom {
		data, err := e.envFromData(pod.Namespace, src)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range data {
			set(src.Prefix+k, v)
		}
	}
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			set(ev.Name, expand(ev.Value, vars))
			continue
		}
		v, ok, err := e.envValueFrom(pod, c, ev.ValueFrom, ips)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", ev.Name, err)
		}
		if ok {
			set(ev.Name, v)
		}
	}
	kv := make([]*runtimeapi.KeyValue, 0, len(order))
	for _, k := range order {
		kv = append(kv, &runtimeapi.KeyValue{Key: k, Value: []byte(vars[k])})
	}
	return kv, vars, nil
}

func (e *Edged) envFromData(ns string, src corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case src.ConfigMapRef != nil:
		cm, err := e.cms.ConfigMaps(ns).Get(src.ConfigMapRef.Name)
		if apierrors.IsNotFound(err) && src.ConfigMapRef.Optional != nil && *src.ConfigMapRef.Optional {
			return nil, nil
		}
		if err != nil {
			return nil, missing(err, "configmap", ns, src.ConfigMapRef.Name)
		}
		return cm.Data, nil
	case src.SecretRef != nil:
		s, err := e.secrets.Secrets(ns).Get(src.SecretRef.Name)
		if apierrors.IsNotFound(err) && src.SecretRef.Optional != nil && *src.SecretRef.Optional {
			return nil, nil
		}
		if err != nil {
			return nil, missing(err, "secret", ns, src.SecretRef.Name)
		}
		out := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func missing(err error, kind, ns, name string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %s %q not found in namespace %q", errMissingEnvObject, kind, name, ns)
	}
	return fmt.Errorf("edged: %s %s/%s: %w", kind, ns, name, err)
}

// envValueFrom resolves one valueFrom; ok is false for an optional value that is absent.
func (e *Edged) envValueFrom(pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, ips volume.PodIPs) (string, bool, error) {
	switch {
	case vf.FieldRef != nil:
		v, err := volume.FieldValue(pod, vf.FieldRef.FieldPath, ips)
		return v, err == nil, err
	case vf.ResourceFieldRef != nil:
		v, err := volume.ResourceValue(pod, c.Name, vf.ResourceFieldRef)
		return v, err == nil, err
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		optional := r.Optional != nil && *r.Optional
		cm, err := e.cms.ConfigMaps(pod.Namespace).Get(r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, missing(err, "configmap", pod.Namespace, r.Name)
		}
		v, ok := cm.Data[r.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("%w: configmap %s/%s has no key %q", errMissingEnvObject, pod.Namespace, r.Name, r.Key)
		}
		return v, ok, nil
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		optional := r.Optional != nil && *r.Optional
		s, err := e.secrets.Secrets(pod.Namespace).Get(r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return "", false, nil
			}
			return "", false, missing(err, "secret", pod.Namespace, r.Name)
		}
		v, ok := s.Data[r.Key]
		if !ok && !optional {
			return "", false, fmt.Errorf("%w: secret %s/%s has no key %q", errMissingEnvObject, pod.Namespace, r.Name, r.Key)
		}
		return string(v), ok, nil
	}
	return "", false, errors.New("valueFrom without a source")
}

// expand replaces $(VAR) with vars[VAR] when defined (undefined references stay as written)
// and $$ with $, the Kubernetes expansion rules for env, command and args.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(s[i : i+3+end])
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func expandAll(in []string, vars map[string]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}
