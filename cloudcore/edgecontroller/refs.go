package edgecontroller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var everything = labels.Everything()

// refKind is a kind of object a pod references.
type refKind int

const (
	refConfigMap refKind = iota
	refSecret
	refServiceAccount
)

// podRefs are the names a pod references in its namespace.
type podRefs struct {
	configMaps, secrets []string
	serviceAccount      string
}

// referencesOf lists what pod references: volumes (configMap, secret, projected sources), env
// and envFrom of all containers, imagePullSecrets and its ServiceAccount.
func referencesOf(pod *corev1.Pod) podRefs {
	var r podRefs
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			r.configMaps = append(r.configMaps, v.ConfigMap.Name)
		case v.Secret != nil:
			r.secrets = append(r.secrets, v.Secret.SecretName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					r.configMaps = append(r.configMaps, s.ConfigMap.Name)
				}
				if s.Secret != nil {
					r.secrets = append(r.secrets, s.Secret.Name)
				}
			}
		}
	}
	containers := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					r.configMaps = append(r.configMaps, e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					r.secrets = append(r.secrets, e.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if e.ValueFrom.ConfigMapKeyRef != nil {
					r.configMaps = append(r.configMaps, e.ValueFrom.ConfigMapKeyRef.Name)
				}
				if e.ValueFrom.SecretKeyRef != nil {
					r.secrets = append(r.secrets, e.ValueFrom.SecretKeyRef.Name)
				}
			}
		}
	}
	containers(pod.Spec.InitContainers)
	containers(pod.Spec.Containers)
	for _, ec := range pod.Spec.EphemeralContainers {
		containers([]corev1.Container{corev1.Container(ec.EphemeralContainerCommon)})
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		r.secrets = append(r.secrets, s.Name)
	}
	r.serviceAccount = pod.Spec.ServiceAccountName
	if r.serviceAccount == "" {
		r.serviceAccount = "default"
	}
	return r
}

// podRefers reports whether pod references an object of kind named name.
func podRefers(pod *corev1.Pod, kind refKind, name string) bool {
	r := referencesOf(pod)
	switch kind {
	case refConfigMap:
		return contains(r.configMaps, name)
	case refSecret:
		return contains(r.secrets, name)
	default:
		return r.serviceAccount == name
	}
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
